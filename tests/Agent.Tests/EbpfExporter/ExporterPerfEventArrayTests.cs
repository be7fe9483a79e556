using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests.EbpfExporter;

/// <summary>
/// ebpf_exporter's perf_event_array counter: every sample the program writes to the perf event array is counted by
/// the labels cut from its first bytes (size, then padding), exactly, with nothing lost or left out.
/// </summary>
public sealed class ExporterPerfEventArrayTests
{
    private const int ArgBase = 0x7e590000;

    [KernelFact]
    public async Task Every_sample_of_the_perf_event_array_is_counted_by_its_labels()
    {
        using var config = new TestConfig();
        ExporterTestSets.Install(config, "exporter_perf");
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        int[] args = [.. Enumerable.Range(0, 500)];
        foreach (int a in args)
        {
            _ = Tmds.Linux.LibC.getpgid(ArgBase + a);
        }

        string text = await SettleAsync(config.Url, t => Sum(t, "ebpf_exporter_perf_calls_total") >= args.Length, TimeSpan.FromSeconds(10));
        foreach (var g in args.GroupBy(a => (a % 3, a % 2 == 0 ? "even" : "odd")))
        {
            Assert.Equal(g.Count(), Sum(text, "ebpf_exporter_perf_calls_total", ("kind", g.Key.Item1.ToString(System.Globalization.CultureInfo.InvariantCulture)), ("flag", g.Key.Item2)));
        }

        Assert.Equal(6, Select(text, "ebpf_exporter_perf_calls_total").Count);
        Assert.Equal(args.Length, Sum(text, "ebpf_exporter_perf_calls_total"));
        Assert.Equal(0, Assert.Single(Select(text, "bpf_agent_perf_events_lost_total", ("metric", "ebpf_exporter_perf_calls_total"))).Value);
        Assert.Equal(0, Assert.Single(Select(text, "bpf_agent_perf_events_short_total", ("metric", "ebpf_exporter_perf_calls_total"))).Value);
    }
}
