namespace BpfAgent.Tests.Decoders;

/// <summary>
/// Decoder chains through the whole agent: a program set's JSON names them, the loader builds them against the
/// object's BTF, and the real kernel's samples (flood.bpf.c, fired by exact getppid counts) come out on /metrics.
/// </summary>
public sealed class DecoderChainEndToEndTests
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task A_chain_names_values_and_a_regexp_filters_label_sets_counted()
    {
        // One burst of 1000 samples whose value field is seq % 10: each value 0-9 comes 100 times.
        const int Burst = 1000, Distinct = 10;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        config.AddSet("chains", ReliabilityConfig.FloodSet(trigger.Tid, Burst, program: "flood_wide", modulo: Distinct, metrics: """
            [ { "name": "flood_named_total", "type": "counter",
                "labels": [
                  { "name": "name", "field": "value", "decoders": [ "uint", { "name": "static_map", "static_map": { "1": "one", "2": "two" } } ] },
                  { "name": "kept", "field": "value", "decoders": [ "uint", { "name": "regexp", "regexps": [ "^[12]$" ] } ] } ] },
              { "name": "flood_all_total", "type": "counter",
                "labels": [ { "name": "name", "field": "value", "decoders": [ { "name": "static_map", "static_map": { "1": "one" }, "allow_unknown": true } ] } ] } ]
            """));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        trigger.Fire(1);
        string text = await MetricSamples.SettleAsync(config.Url,
            t => RingAccount.Read(t, "chains", "wide_events").Delivered >= Burst, s_settle);
        Assert.Equal(new RingAccount(Burst, Burst, 0, 0, 0), RingAccount.Read(text, "chains", "wide_events"));

        // The regexp keeps values 1 and 2; static_map names them.
        IReadOnlyList<MetricSample> named = MetricSamples.Select(text, "flood_named_total");
        Assert.Equal(2, named.Count);
        Assert.Equal(100, Assert.Single(named, s => s.Label("name") == "one" && s.Label("kept") == "1").Value);
        Assert.Equal(100, Assert.Single(named, s => s.Label("name") == "two" && s.Label("kept") == "2").Value);
        Assert.Equal(Burst - 200, Scrape.Value(text, "bpf_agent_metric_filtered_samples_total", ("set", "chains"), ("metric", "flood_named_total")));

        // allow_unknown passes the other values through as their numbers; nothing is filtered.
        IReadOnlyList<MetricSample> all = MetricSamples.Select(text, "flood_all_total");
        Assert.Equal(Distinct, all.Count);
        Assert.Equal(100, Assert.Single(all, s => s.Label("name") == "one").Value);
        Assert.Equal(100, Assert.Single(all, s => s.Label("name") == "7").Value);
        Assert.Equal(0, Scrape.Value(text, "bpf_agent_metric_filtered_samples_total", ("set", "chains"), ("metric", "flood_all_total")));
    }
}
