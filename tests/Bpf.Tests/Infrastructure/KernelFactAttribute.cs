namespace Bpf.Tests;

/// <summary>
/// A test that needs the real kernel (root or CAP_BPF+CAP_PERFMON, BTF, bpffs, built test objects).
/// Under CI (CI=true) it always runs, so a missing prerequisite fails it; a developer without BPF sees it
/// skipped with the reason.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class KernelFactAttribute : FactAttribute
{
    public KernelFactAttribute()
    {
        if (KernelSupport.SkipReason is string reason)
        {
            Skip = reason;
        }
    }
}

/// <summary>Decides whether kernel tests can run here.</summary>
public static class KernelSupport
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when kernel tests should run (always under CI), else why they are skipped.</summary>
    public static string? SkipReason { get; } = ComputeSkipReason();

    private static string? ComputeSkipReason()
    {
        if (IsCi)
        {
            return null;
        }

        if (Tmds.Linux.LibC.geteuid() != 0)
        {
            return "kernel test skipped: not root (needs CAP_BPF and CAP_PERFMON); run `sudo make test`";
        }

        if (!File.Exists("/sys/kernel/btf/vmlinux"))
        {
            return "kernel test skipped: the kernel has no BTF (/sys/kernel/btf/vmlinux)";
        }

        if (!File.Exists(TestObjects.Path("ringbuf_test")))
        {
            return "kernel test skipped: test BPF objects are not built; run `make test`";
        }

        return null;
    }
}
