namespace BpfAgent.Tests;

/// <summary>Where the repository, the built agent and the built BPF objects are.</summary>
public static class Paths
{
    public static string Root { get; } = FindRoot();

    /// <summary>The agent as built by `make build` (framework-dependent dll, run with `dotnet`).</summary>
    public static string AgentDll => Path.Combine(AppContext.BaseDirectory, "bpf-agent.dll");

    public static string ProgramObject(string name) => Path.Combine(Root, "build", "programs", name + ".bpf.o");

    public static string TestObject(string name) => Path.Combine(Root, "build", "tests", "Agent.Tests", "bpf", name + ".bpf.o");

    public static string ShippedConfig => Path.Combine(Root, "config");

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string? KernelSkipReason { get; } = ComputeSkipReason();

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

        if (!File.Exists(ProgramObject("exec")))
        {
            return "kernel test skipped: BPF objects are not built; run `make test`";
        }

        return null;
    }

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Agent.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Agent.sln not found above " + AppContext.BaseDirectory);
    }
}
