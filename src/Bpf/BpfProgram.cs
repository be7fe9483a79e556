using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>A loaded program. Borrowed from its <see cref="BpfObject"/>: use after dispose throws.</summary>
public readonly unsafe struct BpfProgram
{
    private readonly BpfObject _owner;
    private readonly nint _prog;

    internal BpfProgram(BpfObject owner, nint prog)
    {
        _owner = owner;
        _prog = prog;
    }

    private nint Pointer
    {
        get
        {
            (_owner ?? throw new InvalidOperationException("Default BpfProgram.")).ThrowIfDisposed();
            return _prog;
        }
    }

    /// <summary>The C function name.</summary>
    public string Name => NativeText.ToString(Interop.Libbpf.bpf_program__name(Pointer)) ?? "";

    /// <summary>The ELF section, for example <c>tp/syscalls/sys_enter_getpid</c>.</summary>
    public string Section => NativeText.ToString(Interop.Libbpf.bpf_program__section_name(Pointer)) ?? "";

    public BpfProgramType Type => (BpfProgramType)Interop.Libbpf.bpf_program__type(Pointer);

    /// <summary>The program's fd, or a negative value when it was not loaded (autoload off).</summary>
    public int Fd => Interop.Libbpf.bpf_program__fd(Pointer);

    /// <summary>
    /// The auto-attach flag (default on; <see cref="OpenBpfProgram.AutoAttach"/> changes it). Whether the
    /// section also names a hook libbpf can attach to is only known by trying: <see cref="BpfObject.AttachAll"/>.
    /// </summary>
    public bool AutoAttach => Interop.Libbpf.bpf_program__autoattach(Pointer);

    /// <summary>Attaches by section (tracepoint, raw tracepoint, fentry...). Dispose the link to detach.</summary>
    public BpfLink Attach()
    {
        nint link = Interop.Libbpf.bpf_program__attach(Pointer);
        if (link == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, "bpf_program__attach", $"{_owner.Path}: program '{Name}' at '{Section}'");
        }

        return new BpfLink(link, Name);
    }

    /// <summary>Pins the program at a bpffs path.</summary>
    public void Pin(string path)
    {
        fixed (byte* p = NativeText.ToNative(path))
        {
            Errors.Check(Interop.Libbpf.bpf_program__pin(Pointer, p), "bpf_program__pin", path);
        }
    }

    /// <summary>Removes the program's pin at a bpffs path.</summary>
    public void Unpin(string path)
    {
        fixed (byte* p = NativeText.ToNative(path))
        {
            Errors.Check(Interop.Libbpf.bpf_program__unpin(Pointer, p), "bpf_program__unpin", path);
        }
    }

    /// <summary>Kernel id, run count and run time of the program (run figures need <see cref="BpfStats"/> enabled).</summary>
    public BpfProgramInfo GetInfo() => BpfProgramInfo.FromFd(Fd, Name);

    public override string ToString() => _owner is null ? "(none)" : $"{Name} ({Section})";
}
