namespace Bpf.Tests;

/// <summary>Where the build puts the test BPF objects (build/tests/Bpf.Tests/bpf/*.bpf.o).</summary>
public static class TestObjects
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string Path(string name) =>
        System.IO.Path.Combine(RepositoryRoot, "build", "tests", "Bpf.Tests", "bpf", name + ".bpf.o");

    /// <summary>Opens a test object with <c>target_tgid</c> set to this process, so it only reacts to the test.</summary>
    public static OpenBpfObject OpenForThisProcess(string name, BpfObjectOpenOptions? options = null)
    {
        OpenBpfObject obj = OpenBpfObject.OpenFile(Path(name), options);
        obj.SetGlobal("target_tgid", (uint)Environment.ProcessId);
        return obj;
    }

    private static string FindRoot()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = System.IO.Path.GetDirectoryName(dir))
        {
            if (File.Exists(System.IO.Path.Combine(dir, "Agent.sln")))
            {
                return dir;
            }
        }

        throw new InvalidOperationException("Agent.sln not found above " + AppContext.BaseDirectory);
    }
}
