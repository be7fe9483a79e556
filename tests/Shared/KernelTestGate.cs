namespace TestSupport;

/// <summary>
/// Whether tests that need the real kernel run here. Under CI (CI=true) they always run, so a missing
/// prerequisite fails them; a developer without BPF sees them skipped with the reason. Shared by the test
/// projects (linked into each).
/// </summary>
public static class KernelTestGate
{
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when kernel tests should run, else why they are skipped.</summary>
    /// <param name="builtFile">A file the build makes that the tests need (a BPF object).</param>
    public static string? SkipReason(string builtFile)
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

        if (!File.Exists(builtFile))
        {
            return $"kernel test skipped: {builtFile} is not built; run `make test`";
        }

        return null;
    }
}
