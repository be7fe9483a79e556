using System.Diagnostics;
using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// The soak: the agent under a sustained high event rate with a reload cycle every few seconds, then the verdict:
/// every sample produced is delivered or counted as dropped at one stage, and RSS and fds did not grow. `make test`
/// runs a short one (SOAK_SECONDS, default 20); `make soak` runs it for 600 s and writes the report to SOAK_REPORT.
/// </summary>
public sealed class ReliabilitySoakTests(ITestOutputHelper output)
{
    /// <summary>RSS may grow this much from the end of warm-up to the end (GC heap and pool fluctuation), no more.</summary>
    private const long RssBoundBytes = 64L << 20;

    [KernelFact]
    public async Task Soak_with_reloads_accounts_for_every_sample_and_does_not_grow()
    {
        double seconds = Setting("SOAK_SECONDS", 20);
        double reloadEvery = Setting("SOAK_RELOAD_SECONDS", 2);
        int burst = (int)Setting("SOAK_BURST", 100);
        int triggersPerBatch = (int)Setting("SOAK_TRIGGERS_PER_MS", 10);
        double warmUp = Math.Min(10, Math.Max(3, seconds / 10));

        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["DropAlarmRatio"] = 1.0 });
        string file = config.AddSet("soak", Soak(trigger.Tid, burst, 0));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        // Sustained load: a few thousand triggers a second, each `burst` samples into each of two rings (flood's 4 KiB
        // ring always overflows: kernel drops; flood_wide's 1 MiB ring keeps up while the agent does).
        trigger.StartContinuous(triggersPerBatch, pauseMs: 1);
        var sw = Stopwatch.StartNew();
        int reloads = 0;
        var reloadTimes = new List<double>();
        long rssStart = 0, rssMax = 0;
        var rssTimeline = new List<(double Seconds, long Rss)>();
        double nextRssSample = 0;
        int fdsStart = 0;
        IReadOnlyDictionary<string, int>? fdKindsStart = null;
        try
        {
            double nextReload = reloadEvery;
            while (sw.Elapsed.TotalSeconds < seconds)
            {
                Assert.False(agent.HasExited, $"the agent exited during the soak:\n{agent.Output}");
                if (fdKindsStart is null && sw.Elapsed.TotalSeconds >= warmUp)
                {
                    rssStart = ProcessFacts.RssBytes(agent.Pid);
                    fdsStart = ProcessFacts.FdCount(agent.Pid);
                    fdKindsStart = ProcessFacts.FdKinds(agent.Pid);
                }

                if (fdKindsStart is not null)
                {
                    rssMax = Math.Max(rssMax, ProcessFacts.RssBytes(agent.Pid));
                }

                if (sw.Elapsed.TotalSeconds >= nextRssSample)
                {
                    rssTimeline.Add((sw.Elapsed.TotalSeconds, ProcessFacts.RssBytes(agent.Pid)));
                    nextRssSample += seconds / 10;
                }

                if (sw.Elapsed.TotalSeconds >= nextReload)
                {
                    nextReload += reloadEvery;
                    reloads++;
                    File.WriteAllText(file, Soak(trigger.Tid, burst, reloads % 2));
                    var reloadWatch = Stopwatch.StartNew();
                    AgentOutput.Hangup(agent);
                    Assert.True(await AgentOutput.WaitForCountAsync(agent, "Reload finished: success", reloads, TimeSpan.FromSeconds(30)),
                        $"reload {reloads} did not succeed:\n{Tail(agent.Output)}");
                    reloadTimes.Add(reloadWatch.Elapsed.TotalMilliseconds);
                }

                await Task.Delay(100);
            }
        }
        finally
        {
            trigger.StopContinuous();
        }

        double elapsed = sw.Elapsed.TotalSeconds;
        string attemptsPin = ReliabilityConfig.PinOf(config, "soak", "flood_attempts") ?? throw new InvalidOperationException("flood_attempts is not pinned");
        long produced = ProcessFacts.ReadPinnedPerCpuSum(attemptsPin);
        string text = await MetricSamples.SettleAsync(config.Url, t =>
        {
            RingAccount f = RingAccount.Read(t, "soak", "flood_events"), w = RingAccount.Read(t, "soak", "wide_events");
            return f.Received + w.Received + f.Kernel >= produced && f.Settled && w.Settled;
        }, TimeSpan.FromSeconds(30));
        RingAccount small = RingAccount.Read(text, "soak", "flood_events"), wide = RingAccount.Read(text, "soak", "wide_events");

        // fds: exactly as after warm-up (assemblies .NET maps late aside); scrape sockets may take a moment to close.
        ProcessFacts.WaitUntil(() => ProcessFacts.FdGrowth(fdKindsStart!, ProcessFacts.FdKinds(agent.Pid)).Length == 0, TimeSpan.FromSeconds(10));
        long rssEnd = ProcessFacts.RssBytes(agent.Pid);
        int fdsEnd = ProcessFacts.FdCount(agent.Pid);
        string fdGrowth = ProcessFacts.FdGrowth(fdKindsStart!, ProcessFacts.FdKinds(agent.Pid));

        double received = small.Received + wide.Received, kernel = small.Kernel;
        bool accounted = produced == received + kernel && small.Settled && wide.Settled;
        bool rssOk = rssEnd <= rssStart + RssBoundBytes && rssMax <= rssStart + RssBoundBytes;
        bool fdsOk = fdGrowth.Length == 0;
        double failures = Scrape.Value(text, "bpf_agent_config_reloads_total", ("result", "failure")) ?? -1;

        static string N(double v) => v.ToString("N0", CultureInfo.InvariantCulture);
        static string MiB(long b) => (b / (1024.0 * 1024)).ToString("F1", CultureInfo.InvariantCulture);
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"bpf-agent soak: {elapsed:F0} s of load, {reloads} reloads (one every {reloadEvery} s), set 'soak' = flood (4 KiB ring) + flood_wide (1 MiB ring), burst {burst}, default agent settings");
        report.AppendLine(CultureInfo.InvariantCulture, $"  produced (kernel reserve attempts)  {N(produced),16}  ({produced / elapsed / 1e6:F2} M samples/s)");
        report.AppendLine(CultureInfo.InvariantCulture, $"  received from the rings             {N(received),16}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  delivered                           {N(small.Delivered + wide.Delivered),16}  ({(small.Delivered + wide.Delivered) / elapsed / 1e6:F2} M samples/s)");
        report.AppendLine(CultureInfo.InvariantCulture, $"  dropped, kernel (ring full)         {N(kernel),16}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  dropped, channel                    {N(small.Channel + wide.Channel),16}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  dropped, decode                     {N(small.Decode + wide.Decode),16}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  by ring: flood_events {small.RingPart}; wide_events {wide.RingPart}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  reloads: {reloads} ok, {failures} failed; SIGHUP to 'Reload finished' median {Median(reloadTimes):F0} ms, max {(reloadTimes.Count > 0 ? reloadTimes.Max() : 0):F0} ms");
        report.AppendLine(CultureInfo.InvariantCulture, $"  RSS after {warmUp:F0} s warm-up {MiB(rssStart)} MiB, max {MiB(rssMax)} MiB, end {MiB(rssEnd)} MiB (bound: +{RssBoundBytes >> 20} MiB)");
        report.AppendLine(CultureInfo.InvariantCulture, $"  RSS over time (s: MiB): {string.Join(", ", rssTimeline.Select(p => $"{p.Seconds:F0}: {MiB(p.Rss)}"))}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  fds after warm-up {fdsStart}, end {fdsEnd} (bound: every fd kind equal, assemblies loaded late aside){(fdsOk ? "" : ": changed " + fdGrowth)}");
        report.AppendLine(CultureInfo.InvariantCulture, $"  verdict: {(accounted && rssOk && fdsOk && failures == 0 ? "PASS" : "FAIL")}: " +
            $"{(accounted ? "every sample accounted for (produced = received + kernel drops; received = delivered + channel + decode drops)" : "SAMPLES UNACCOUNTED")}; " +
            $"RSS {(rssOk ? "within" : "OVER")} bound; fds {(fdsOk ? "at baseline" : "GREW")}");
        output.WriteLine(report.ToString());
        if (Environment.GetEnvironmentVariable("SOAK_REPORT") is { Length: > 0 } path)
        {
            File.WriteAllText(path, report.ToString());
        }

        Assert.True(small.Kernel > 0, $"no kernel drops: the load was not high\n{report}");
        Assert.True(accounted, report.ToString());
        Assert.True(rssOk, report.ToString());
        Assert.True(fdsOk, report.ToString());
        Assert.Equal(0, failures);
    }

    private static string Soak(int tid, int burst, long generation) => $$"""
        {
          "object": "{{ReliabilityConfig.FloodObject}}",
          "programs": [ "flood", "flood_wide" ],
          "parameters": { "target_tid": {{tid}}, "burst": {{burst}}, "modulo": 16, "generation": {{generation}} },
          "ringBuffers": [
            { "map": "flood_events", "struct": "flood_event", "metrics": [ { "name": "soak_samples_total", "type": "counter" } ] },
            { "map": "wide_events", "struct": "flood_event", "metrics": [
                { "name": "soak_wide_samples_total", "type": "counter", "labels": [ { "name": "value", "field": "value" } ] },
                { "name": "soak_wide_seq", "type": "histogram", "field": "seq", "buckets": [ 1, 10, 100, 1000 ] } ] }
          ]
        }
        """;

    private static double Setting(string name, double fallback) =>
        double.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && v > 0 ? v : fallback;

    private static double Median(List<double> values) => values.Count == 0 ? 0 : values.Order().ElementAt(values.Count / 2);

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;
}
