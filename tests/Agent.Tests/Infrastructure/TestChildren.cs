using System.Diagnostics;

namespace BpfAgent.Tests;

/// <summary>Child processes of the test process itself (so their parent tgid is <see cref="Environment.ProcessId"/>).</summary>
public static class TestChildren
{
    /// <summary>The test binary the exec tests run: its comm is "true".</summary>
    public const string True = "/bin/true";

    /// <summary>Runs <paramref name="path"/> <paramref name="count"/> times, one after the other; returns the pids.</summary>
    public static IReadOnlyList<int> Run(string path, int count)
    {
        var pids = new List<int>();
        for (int i = 0; i < count; i++)
        {
            using Process p = Process.Start(new ProcessStartInfo(path) { UseShellExecute = false })!;
            pids.Add(p.Id);
            Assert.True(p.WaitForExit(TimeSpan.FromSeconds(10)), $"{path} did not exit");
            Assert.Equal(0, p.ExitCode);
        }

        return pids;
    }
}
