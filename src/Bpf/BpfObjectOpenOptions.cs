namespace Bpf;

/// <summary>Options for <see cref="OpenBpfObject.OpenFile"/> and <see cref="OpenBpfObject.OpenMemory"/>.</summary>
public sealed class BpfObjectOpenOptions
{
    /// <summary>Object name (defaults to the file name; required by libbpf for memory objects to be meaningful).</summary>
    public string? ObjectName { get; init; }

    /// <summary>Directory where maps declared with <c>LIBBPF_PIN_BY_NAME</c> are pinned and reused.</summary>
    public string? PinRootPath { get; init; }

    /// <summary>
    /// A BTF file describing the running kernel, for CO-RE relocations on kernels without
    /// <c>/sys/kernel/btf/vmlinux</c> (libbpf's <c>btf_custom_path</c>); null uses the kernel's own.
    /// </summary>
    public string? BtfCustomPath { get; init; }

    /// <summary>
    /// Size of a kernel (verifier) log buffer libbpf passes to every program and BTF load; 0 lets libbpf log
    /// only on failure. With a buffer, a failed load's <see cref="BpfException.VerifierLog"/> comes from it.
    /// The kernel fails a load (ENOSPC) whose log does not fit, even of a valid program: level 2 logs every
    /// instruction it verifies, and a 4 KiB buffer already failed small test programs at level 1. Give 1 MiB
    /// or more.
    /// </summary>
    public int KernelLogSize { get; init; }

    /// <summary>Verifier log level for that buffer (1: basic, 2: verbose, 4: stats).</summary>
    public int KernelLogLevel { get; init; }
}
