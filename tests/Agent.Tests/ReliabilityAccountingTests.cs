using Xunit.Abstractions;
using System.Net;
using System.Text.Json;

namespace BpfAgent.Tests;

/// <summary>
/// "Lose nothing unaccounted": under overload every sample the kernel produced is delivered or counted as dropped at
/// exactly one stage (kernel reservation, channel, decode), the drop alarm goes up (metric, log, /healthz) and a label
/// explosion is capped and counted. The producer is tests/Agent.Tests/bpf/flood.bpf.c, fired by exact getppid counts.
/// </summary>
public sealed class ReliabilityAccountingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task Overload_every_sample_is_delivered_or_dropped_at_one_stage_exactly()
    {
        // Each getppid runs flood (4 KiB ring: ~128 samples fit, most of a burst is refused: kernel drops) and
        // flood_wide (1 MiB ring: a whole burst fits, then reaches the poller at once as ~40 batches of 4 KiB,
        // far more than a 2-batch channel takes: channel drops).
        const int Triggers = 200, Burst = 5000;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["ChannelCapacity"] = 2, ["ChannelFullWaitMs"] = 0, ["BatchBytes"] = 4096 });
        config.AddSet("flood", $$"""
            {
              "object": "{{ReliabilityConfig.FloodObject}}",
              "programs": [ "flood", "flood_wide" ],
              "parameters": { "target_tid": {{trigger.Tid}}, "burst": {{Burst}} },
              "ringBuffers": [
                { "map": "flood_events", "struct": "flood_event", "metrics": [ { "name": "flood_samples_total", "type": "counter" } ] },
                { "map": "wide_events", "struct": "flood_event", "metrics": [ { "name": "wide_samples_total", "type": "counter" } ] }
              ]
            }
            """);
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        trigger.Fire(Triggers);
        const long Produced = 2L * Triggers * Burst;
        string text = await MetricSamples.SettleAsync(config.Url, t =>
        {
            RingAccount f = RingAccount.Read(t, "flood", "flood_events"), w = RingAccount.Read(t, "flood", "wide_events");
            return f.Received + w.Received + f.Kernel >= Produced && f.Settled && w.Settled;
        }, s_settle);

        RingAccount small = RingAccount.Read(text, "flood", "flood_events"), wide = RingAccount.Read(text, "flood", "wide_events");
        string both = $"flood_events: {small}; wide_events: {wide}";
        output.WriteLine($"produced {Produced}; {both}");

        // The kernel counter is per object (bpf_agent_drops), so it is reported once for the set.
        double kernel = small.Kernel;
        Assert.True(kernel > 0, $"no kernel-stage drop, so the test proves nothing: {both}");
        Assert.True(small.Channel + wide.Channel > 0, $"no channel-stage drop, so the test proves nothing: {both}");
        Assert.True(small.Delivered > 0 && wide.Delivered > 0, $"nothing delivered: {both}");
        Assert.True(Produced == small.Received + wide.Received + kernel, $"produced {Produced} != received + kernel drops: {both}");
        Assert.True(small.Settled, $"flood_events: received != delivered + channel + decode drops: {small}");
        Assert.True(wide.Settled, $"wide_events: received != delivered + channel + decode drops: {wide}");
        Assert.Equal(0, small.Decode + wide.Decode);
        Assert.Equal(small.Delivered, MetricSamples.Sum(text, "flood_samples_total"));
        Assert.Equal(wide.Delivered, MetricSamples.Sum(text, "wide_samples_total"));

        // The program's own count of reserve attempts (a pinned per-CPU map) agrees: the triggers were exact.
        string attempts = ReliabilityConfig.PinOf(config, "flood", "flood_attempts") ?? throw new InvalidOperationException("flood_attempts is not pinned");
        Assert.Equal(Produced, ProcessFacts.ReadPinnedPerCpuSum(attempts));
    }

    [KernelFact]
    public async Task Samples_shorter_than_their_struct_are_all_decode_drops()
    {
        const int Triggers = 300;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);

        // flood_short submits 16 bytes; the set says each sample is a 64-byte big_event.
        config.AddSet("short", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_short", structName: "big_event"));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        trigger.Fire(Triggers);
        string text = await MetricSamples.SettleAsync(config.Url,
            t => RingAccount.Read(t, "short", "short_events") is { Received: >= Triggers, Settled: true }, s_settle);
        RingAccount a = RingAccount.Read(text, "short", "short_events");
        Assert.True(a == new RingAccount(Triggers, 0, 0, 0, Triggers), $"expected {Triggers} received, all decode drops: {a}");
        Assert.Equal(Triggers, MetricSamples.Sum(text, "bpf_agent_decode_errors_total", ("set", "short")));
        Assert.Empty(MetricSamples.Select(text, "flood_samples_total"));
    }

    [KernelFact]
    public async Task Drop_alarm_raises_the_metric_logs_a_warning_naming_the_set_and_fails_healthz()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object>
        {
            ["ChannelCapacity"] = 2,
            ["ChannelFullWaitMs"] = 0,
            ["BatchBytes"] = 4096,
            ["ReportDropAlarmsInHealth"] = true,
        });
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, 1000));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        Assert.Equal(0, Scrape.Value(await Scrape.MetricsAsync(config.Url), "bpf_agent_drop_alarm", ("set", "flood")));

        // The alarm looks at the last second: keep the overload going until it is seen.
        trigger.StartContinuous(perBatch: 5, pauseMs: 10);
        try
        {
            string text = await MetricSamples.SettleAsync(config.Url,
                t => Scrape.Value(t, "bpf_agent_drop_alarm", ("set", "flood")) == 1, TimeSpan.FromSeconds(10), TimeSpan.Zero);
            Assert.True(Scrape.Value(text, "bpf_agent_drop_alarm", ("set", "flood")) == 1, $"no drop alarm; metrics:\n{text}");
            (HttpStatusCode status, JsonDocument body) = await AgentHealth.GetAsync(config.Url);
            using (body)
            {
                Assert.True(status == HttpStatusCode.ServiceUnavailable, $"/healthz answered {(int)status} under a drop alarm: {body.RootElement}");
                Assert.Contains("flood", body.RootElement.GetProperty("dropAlarms").EnumerateArray().Select(e => e.GetString()));
            }

            Assert.True(await agent.WaitForOutputAsync("Program set flood dropped", TimeSpan.FromSeconds(5)), agent.Output);
            string warning = agent.Output.Split('\n').First(l => l.Contains("Program set flood dropped", StringComparison.Ordinal));
            Assert.Contains(" WRN]", warning, StringComparison.Ordinal);
        }
        finally
        {
            trigger.StopContinuous();
        }

        // Once the overload stops the alarm clears, and the warning was rate limited (at most one per 10 s).
        string after = await MetricSamples.SettleAsync(config.Url,
            t => Scrape.Value(t, "bpf_agent_drop_alarm", ("set", "flood")) == 0, TimeSpan.FromSeconds(10), TimeSpan.Zero);
        Assert.Equal(0, Scrape.Value(after, "bpf_agent_drop_alarm", ("set", "flood")));
        (HttpStatusCode healthy, JsonDocument healthyBody) = await AgentHealth.GetAsync(config.Url);
        healthyBody.Dispose();
        Assert.Equal(HttpStatusCode.OK, healthy);
        Assert.Equal(1, AgentOutput.Count(agent.Output, "Program set flood dropped"));
    }

    [KernelFact]
    public async Task Label_explosion_keeps_the_series_limit_and_counts_the_overflow()
    {
        // One burst of 1000 samples whose value field is seq % 100: 100 distinct label values, 10 samples each.
        const int Burst = 1000, Distinct = 100, MaxSeries = 10;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        config.AddSet("labels", ReliabilityConfig.FloodSet(trigger.Tid, Burst, program: "flood_wide", modulo: Distinct, metrics: $$"""
            [ { "name": "flood_label_samples_total", "type": "counter", "maxSeries": {{MaxSeries}},
                "labels": [ { "name": "value", "field": "value" } ] } ]
            """));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        trigger.Fire(1);
        string text = await MetricSamples.SettleAsync(config.Url,
            t => RingAccount.Read(t, "labels", "wide_events").Delivered >= Burst, s_settle);
        RingAccount a = RingAccount.Read(text, "labels", "wide_events");
        Assert.True(a == new RingAccount(Burst, Burst, 0, 0, 0), $"every sample should be delivered: {a}");

        IReadOnlyList<MetricSample> series = MetricSamples.Select(text, "flood_label_samples_total");
        var real = series.Where(s => s.Label("value") != "overflow").ToList();
        MetricSample overflow = Assert.Single(series, s => s.Label("value") == "overflow");
        Assert.Equal(MaxSeries, real.Count);
        Assert.All(real, s => Assert.Equal(Burst / Distinct, s.Value)); // the first 10 values seen, each 10 times
        const int Beyond = Burst - (MaxSeries * (Burst / Distinct));
        Assert.Equal(Beyond, overflow.Value);
        Assert.Equal(Beyond, Scrape.Value(text, "bpf_agent_metric_overflow_samples_total", ("set", "labels"), ("metric", "flood_label_samples_total")));
    }
}
