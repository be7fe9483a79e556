namespace Bpf;

/// <summary>
/// The running kernel's BTF (<c>/sys/kernel/btf/vmlinux</c>, or a file that describes the kernel), for asking
/// what types and functions (kfuncs among them) it has: the user-space side of <c>bpf_core_type_exists</c> and
/// <c>bpf_ksym_exists</c>.
/// </summary>
public sealed unsafe class KernelBtf : IDisposable
{
    private nint _btf;

    private KernelBtf(nint btf, string source)
    {
        _btf = btf;
        Source = source;
    }

    /// <summary>Where the BTF was read from.</summary>
    public string Source { get; }

    /// <summary>
    /// Reads BTF from <paramref name="path"/> (raw BTF or an ELF file with a .BTF section), or the kernel's own when
    /// null (<c>btf__load_vmlinux_btf</c>, which also looks in the usual places for kernels without sysfs BTF).
    /// </summary>
    public static KernelBtf Open(string? path = null)
    {
        Libbpf.EnsureSupported();
        if (path is null)
        {
            return new KernelBtf(Errors.CheckPointer(Interop.Libbpf.btf__load_vmlinux_btf(), "btf__load_vmlinux_btf", "vmlinux"), "vmlinux");
        }

        fixed (byte* p = NativeText.ToNative(path))
        {
            return new KernelBtf(Errors.CheckPointer(Interop.Libbpf.btf__parse(p, null), "btf__parse", path), path);
        }
    }

    /// <summary>Whether a type of this name and kind is there (for a kfunc: <see cref="BtfKind.Function"/>).</summary>
    public bool HasType(string name, BtfKind kind)
    {
        ObjectDisposedException.ThrowIf(_btf == 0, this);
        fixed (byte* n = NativeText.ToNative(name))
        {
            return Interop.Libbpf.btf__find_by_name_kind(_btf, n, (uint)kind) > 0;
        }
    }

    public void Dispose()
    {
        if (_btf != 0)
        {
            Interop.Libbpf.btf__free(_btf);
            _btf = 0;
        }
    }
}
