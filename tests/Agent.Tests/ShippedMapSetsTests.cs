using System.Runtime.InteropServices;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// The shipped in-kernel sets (syscall_latency, biolatency, runqlat) as shipped, end to end: the test makes their
/// events (getppid calls, fsync'd writes to a file on the VM's disk, two threads contending for one CPU), the counts
/// move by at least what it made, latencies land in plausible buckets, and a real Prometheus's histogram_quantile
/// answers for each.
/// </summary>
public sealed class ShippedMapSetsTests
{
    [KernelFact]
    public async Task Shipped_map_sets_count_the_tests_events_and_Prometheus_answers_quantiles_for_each()
    {
        using var config = new TestConfig();
        foreach (string set in new[] { "syscall_latency", "biolatency", "runqlat" })
        {
            config.AddSet(set, ProgramSetJson.AsShipped(set));
        }

        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}");
        string before = await Scrape.MetricsAsync(config.Url);

        const int Calls = 20_000, Writes = 50;
        for (int i = 0; i < Calls; i++)
        {
            _ = Tmds.Linux.LibC.getppid();
        }

        // fsync'd writes to a file on the disk (not tmpfs): each reaches the block layer as a write and a flush.
        string file = Path.Combine(Paths.Root, "build", $"biolatency-test-{Guid.NewGuid():N}");
        try
        {
            using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
            byte[] block = new byte[4096];
            for (int i = 0; i < Writes; i++)
            {
                stream.Write(block);
                stream.Flush(flushToDisk: true);
            }
        }
        finally
        {
            File.Delete(file);
        }

        // Two threads pinned to CPU 0, each running for a while: each waits on the run queue while the other runs.
        Thread[] spinners = [.. Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            PinToCpu0();
            var until = DateTime.UtcNow.AddMilliseconds(500);
            while (DateTime.UtcNow < until)
            {
                Thread.SpinWait(1000);
            }
        }))];
        foreach (Thread t in spinners)
        {
            t.Start();
        }

        foreach (Thread t in spinners)
        {
            t.Join();
        }

        string text = await SettleAsync(config.Url, t =>
            Sum(t, "syscall_latency_seconds_count", ("syscall", "getppid")) - Sum(before, "syscall_latency_seconds_count", ("syscall", "getppid")) >= Calls
            && Sum(t, "bio_latency_seconds_count", ("operation", "write")) - Sum(before, "bio_latency_seconds_count", ("operation", "write")) >= Writes
            && Sum(t, "runqueue_latency_seconds_count") > Sum(before, "runqueue_latency_seconds_count"), TimeSpan.FromSeconds(20));

        double getppids = Sum(text, "syscall_latency_seconds_count", ("syscall", "getppid")) - Sum(before, "syscall_latency_seconds_count", ("syscall", "getppid"));
        Assert.True(getppids >= Calls, $"{getppids} getppid calls counted, {Calls} made");
        // A getppid takes about a microsecond here: nearly all are at or under 16 us.
        double fast = Sum(text, "syscall_latency_seconds_bucket", ("syscall", "getppid"), ("le", "0.000016"));
        Assert.True(fast >= 0.99 * Sum(text, "syscall_latency_seconds_count", ("syscall", "getppid")), $"only {fast} getppid calls at or under 16 us");

        double writes = Sum(text, "bio_latency_seconds_count", ("operation", "write")) - Sum(before, "bio_latency_seconds_count", ("operation", "write"));
        Assert.True(writes >= Writes, $"{writes} block writes counted, {Writes} fsync'd");
        // A disk write takes more than a microsecond and (on this VM) less than a second.
        Assert.True(Sum(text, "bio_latency_seconds_bucket", ("operation", "write"), ("le", "0.000001")) < writes, "every write took at most 1 us");
        double writeSum = Sum(text, "bio_latency_seconds_sum", ("operation", "write"));
        Assert.InRange(writeSum / Sum(text, "bio_latency_seconds_count", ("operation", "write")), 1e-6, 1.0);

        double waits = Sum(text, "runqueue_latency_seconds_count") - Sum(before, "runqueue_latency_seconds_count");
        Assert.True(waits > 0, "no run-queue wait counted while two threads shared one CPU");
        Assert.True(Sum(text, "runqueue_latency_seconds_bucket", ("le", "+Inf")) == Sum(text, "runqueue_latency_seconds_count"));

        string job = PrometheusServer.Job;
        foreach (string family in new[] { "syscall_latency_seconds", "bio_latency_seconds", "runqueue_latency_seconds" })
        {
            var q = await prometheus.QueryUntilAsync($"histogram_quantile(0.9, sum by (le) ({family}_bucket{{job=\"{job}\"}}))",
                r => r.Count == 1 && double.IsFinite(r[0].Value), TimeSpan.FromSeconds(20));
            Assert.True(q.Count == 1 && double.IsFinite(q[0].Value) && q[0].Value > 0, $"{family}: histogram_quantile gave {string.Join(",", q.Select(x => x.Value))}");
        }

        System.Text.Json.JsonElement target = Assert.Single((await prometheus.ApiAsync("targets?state=active")).GetProperty("activeTargets").EnumerateArray());
        Assert.Equal("", target.GetProperty("lastError").GetString());
    }

    private static unsafe void PinToCpu0()
    {
        var mask = default(Tmds.Linux.cpu_set_t);
        new Span<byte>(&mask, sizeof(Tmds.Linux.cpu_set_t)).Clear();
        *(byte*)&mask = 1; // CPU 0
        if (Tmds.Linux.LibC.sched_setaffinity(0, sizeof(Tmds.Linux.cpu_set_t), &mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity failed: errno {Tmds.Linux.LibC.errno}");
        }
    }
}
