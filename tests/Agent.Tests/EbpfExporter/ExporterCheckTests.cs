namespace BpfAgent.Tests.EbpfExporter;

/// <summary>`bpf-agent check` validates ebpf_exporter configs like native sets: loads and attaches a good one, and refuses a bad one with file, key and fix (status 78).</summary>
public sealed class ExporterCheckTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    [KernelFact]
    public void Check_loads_a_good_config_and_refuses_a_bad_one()
    {
        using var config = new TestConfig();
        string yaml = ExporterTestSets.Install(config, "exporter_perf");
        using (var ok = AgentProcess.Start(["check", "--config-dir", config.Directory]))
        {
            int? code = ok.WaitForExit(s_timeout);
            Assert.True(code == 0, $"check exit {code}:\n{ok.Output}");
            Assert.Contains("ok: exporter_perf:", ok.Output, StringComparison.Ordinal);
            Assert.Contains("attached count", ok.Output, StringComparison.Ordinal);
        }

        File.WriteAllText(yaml, File.ReadAllText(yaml).Replace("padding: 3", "paddng: 3", StringComparison.Ordinal));
        using var bad = AgentProcess.Start(["check", "--config-dir", config.Directory]);
        int? badCode = bad.WaitForExit(s_timeout);
        Assert.True(badCode == 78, $"check exit {badCode} (expected 78):\n{bad.Output}");
        Assert.Contains($"{yaml}: metrics.counters[0].labels[1].paddng: is not a known key. Fix: did you mean \"padding\"?", bad.Output, StringComparison.Ordinal);
    }
}
