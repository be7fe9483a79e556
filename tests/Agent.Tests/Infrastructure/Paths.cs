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

    public static bool IsCi => TestSupport.KernelTestGate.IsCi;

    public static string? KernelSkipReason { get; } = TestSupport.KernelTestGate.SkipReason(ProgramObject("exec"));

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
