namespace Bpf;

/// <summary>A program of an <see cref="OpenBpfObject"/>, before load. Cannot outlive its object.</summary>
public readonly unsafe struct OpenBpfProgram
{
    private readonly OpenBpfObject _owner;
    private readonly nint _prog;

    internal OpenBpfProgram(OpenBpfObject owner, nint prog)
    {
        _owner = owner;
        _prog = prog;
    }

    private nint Pointer
    {
        get
        {
            (_owner ?? throw new InvalidOperationException("Default OpenBpfProgram.")).ThrowIfDisposed();
            return _prog;
        }
    }

    /// <summary>The C function name.</summary>
    public string Name => NativeText.ToString(Interop.Libbpf.bpf_program__name(Pointer)) ?? "";

    /// <summary>The ELF section, for example <c>tp/syscalls/sys_enter_getpid</c>.</summary>
    public string Section => NativeText.ToString(Interop.Libbpf.bpf_program__section_name(Pointer)) ?? "";

    public BpfProgramType Type => (BpfProgramType)Interop.Libbpf.bpf_program__type(Pointer);

    /// <summary>Whether Load loads this program (default true).</summary>
    public bool AutoLoad
    {
        get => Interop.Libbpf.bpf_program__autoload(Pointer);
        set => Errors.Check(Interop.Libbpf.bpf_program__set_autoload(Pointer, value), "bpf_program__set_autoload", Name);
    }

    /// <summary>Whether <see cref="BpfObject.AttachAll"/> attaches this program (default true; it skips programs whose section names no hook anyway).</summary>
    public bool AutoAttach
    {
        get => Interop.Libbpf.bpf_program__autoattach(Pointer);
        set => Interop.Libbpf.bpf_program__set_autoattach(Pointer, value);
    }

    public override string ToString() => _owner is null ? "(none)" : $"{Name} ({Section})";
}
