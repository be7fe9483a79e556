using System.Buffers.Binary;
using System.Globalization;
using Bpf;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// Metrics read from BPF maps at scrape, against a known workload: every map kind (hash, per-CPU hash, array,
/// LRU hash), a key struct with padding and a nested field, exp2 buckets with the sum after the last bucket and
/// linear buckets with a sum field, per-CPU values summed and kept per CPU, a metric past maxSeries, and entries
/// deleted between scrapes. Expected values come from the triggered arguments and, for two maps, from reading the
/// same pinned maps through the binding.
/// </summary>
public sealed class MapMetricsTests
{
    private static readonly int[] s_args = [.. Enumerable.Range(1, 40).Select(i => i * 37), 5000, 123_456];

    [KernelFact]
    public async Task Every_map_kind_exports_exactly_what_its_entries_hold_and_deleted_keys_leave()
    {
        using var config = new TestConfig();
        config.AddSet("maps", Json(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        foreach (int arg in s_args)
        {
            _ = Tmds.Linux.LibC.getpgid(arg);
        }

        string text = await SettleAsync(config.Url, t => Sum(t, "test_map_events_total") >= s_args.Length, TimeSpan.FromSeconds(10));

        // counts_hash: one series per (kind, small, in.code): key struct with padding and a nested field.
        foreach (var g in s_args.GroupBy(a => (a % 4, a % 3, a % 5)))
        {
            Assert.Equal(g.Count(), Sum(text, "test_map_events_total", ("kind", I(g.Key.Item1)), ("small", I(g.Key.Item2)), ("code", I(g.Key.Item3))));
        }

        Assert.Equal(s_args.GroupBy(a => (a % 4, a % 3, a % 5)).Count(), Select(text, "test_map_events_total").Count);
        Assert.Equal(s_args.Length, ReadPinnedSum(config, "counts_hash", valueOffset: 0)); // the map itself, through the binding

        // maxSeries 2 over 4 kinds: two real series and the overflow one, nothing lost, the overflow counted.
        var byKind = Select(text, "test_map_events_by_kind_total");
        Assert.Equal(3, byKind.Count);
        Assert.Single(byKind, s => s.Label("kind") == "overflow");
        Assert.Equal(s_args.Length, byKind.Sum(s => s.Value));
        Assert.True(Sum(text, "bpf_agent_map_overflow_entries", ("metric", "test_map_events_by_kind_total")) > 0);

        // counts_percpu: values summed over CPUs, or one series per CPU with cpuLabel (their sum is the total).
        foreach (var g in s_args.GroupBy(a => a % 4))
        {
            Assert.Equal(g.Count(), Sum(text, "test_percpu_events_total", ("kind", I(g.Key))));
            Assert.Equal(g.Sum(a => (double)a), Sum(text, "test_percpu_bytes_total", ("kind", I(g.Key))));
            Assert.Equal(Libbpf.PossibleCpuCount, Select(text, "test_percpu_bytes_total", ("kind", I(g.Key))).Select(s => s.Label("cpu")).Distinct().Count());
        }

        // counts_array: every index is an entry, untouched ones export 0.
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(s_args.Count(a => a % 4 == i), Assert.Single(Select(text, "test_array_events_total", ("index", I(i)))).Value);
        }

        // gauge_lru: the last argument of each kind.
        foreach (var g in s_args.GroupBy(a => a % 4))
        {
            Assert.Equal(g.Last(), Assert.Single(Select(text, "test_last_arg", ("kind", I(g.Key)))).Value);
        }

        // hist_exp2: bucket b holds (2^(b-1), 2^b], cumulative; the sum sits at bucket max + 1.
        foreach (var g in s_args.GroupBy(a => a % 4))
        {
            (string, string) kind = ("kind", I(g.Key));
            Assert.Equal(g.Count(), Sum(text, "test_arg_exp2_count", kind));
            Assert.Equal(g.Sum(a => (double)a), Sum(text, "test_arg_exp2_sum", kind));
            for (int b = 0; b <= 20; b++)
            {
                double le = Math.Pow(2, b);
                Assert.Equal(g.Count(a => a <= le || b == 20), Sum(text, "test_arg_exp2_bucket", kind, ("le", PrometheusNumber(le))));
            }

            Assert.Equal(g.Count(), Sum(text, "test_arg_exp2_bucket", kind, ("le", "+Inf")));
        }

        Assert.Equal(s_args.Sum(a => (double)a), ReadPinnedSum(config, "hist_exp2", valueOffset: 0) - s_args.Length); // sum + counts

        // hist_linear: a per-CPU map of {count, sum}; bucket b (arg / 1000, at most 9) has le = b * 1000.
        Assert.Equal(s_args.Length, Sum(text, "test_arg_linear_count"));
        Assert.Equal(s_args.Sum(a => (double)a), Sum(text, "test_arg_linear_sum"));
        for (int b = 0; b <= 9; b++)
        {
            Assert.Equal(s_args.Count(a => Math.Min(a / 1000, 9) <= b), Sum(text, "test_arg_linear_bucket", ("le", I(b * 1000))));
        }

        Assert.Equal(4, Sum(text, "bpf_agent_map_entries", ("map", "gauge_lru"))); // one entry per kind
        Assert.Equal(16, Sum(text, "bpf_agent_map_max_entries", ("map", "gauge_lru")));
        Assert.Empty(OpenMetricsCheck.Problems(await HistogramTests.ScrapeOpenMetricsAsync(config.Url)));
        string problems = await PrometheusTests.PromtoolAsync(text);
        Assert.True(problems.Length == 0, $"promtool check metrics:\n{problems}");

        // Deleting kind 1's entries: its series leave /metrics at the next read.
        _ = Tmds.Linux.LibC.getpgid(1_000_000 + 1);
        string after = await SettleAsync(config.Url, t => Select(t, "test_last_arg", ("kind", "1")).Count == 0, TimeSpan.FromSeconds(10));
        Assert.Empty(Select(after, "test_last_arg", ("kind", "1")));
        Assert.Empty(Select(after, "test_map_events_total", ("kind", "1")));
        Assert.Empty(Select(after, "test_arg_exp2_count", ("kind", "1")));
        Assert.Equal(3, Select(after, "test_arg_exp2_count").Count);
        Assert.Equal(s_args.Count(a => a % 4 != 1), Sum(after, "test_map_events_total"));
    }

    [KernelFact]
    public async Task Scrapes_during_reloads_and_while_a_map_fills_at_full_rate_neither_fail_nor_block()
    {
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string file = config.AddSet("maps", Json(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        using var stop = new CancellationTokenSource();
        long fills = 0;
        var filler = new Thread(() =>
        {
            var random = new Random(7);
            while (!stop.IsCancellationRequested)
            {
                _ = Tmds.Linux.LibC.getpgid(random.Next(1, 900_000));
                fills++;
            }
        });
        filler.Start();
        var slowest = TimeSpan.Zero;
        int scrapes = 0;
        try
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            for (int reload = 1; reload <= 6; reload++)
            {
                // A real change each time (the counter's maxSeries), so every reload replaces the set.
                File.WriteAllText(file, Json(Environment.ProcessId).Replace("\"maxSeries\": 2", $"\"maxSeries\": {2 + reload}", StringComparison.Ordinal));
                AgentOutput.Hangup(agent);
                for (int i = 0; i < 10; i++)
                {
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    using HttpResponseMessage r = await http.GetAsync(config.Url + "/metrics");
                    string body = await r.Content.ReadAsStringAsync();
                    sw.Stop();
                    Assert.Equal(System.Net.HttpStatusCode.OK, r.StatusCode);
                    Assert.Contains("test_arg_exp2_bucket", body, StringComparison.Ordinal);
                    slowest = sw.Elapsed > slowest ? sw.Elapsed : slowest;
                    scrapes++;
                }

                Assert.True(await AgentOutput.WaitForCountAsync(agent, "Reload finished: ", reload, TimeSpan.FromSeconds(20)), $"reload {reload} did not finish");
            }
        }
        finally
        {
            stop.Cancel();
            filler.Join();
        }

        Assert.True(slowest < TimeSpan.FromSeconds(2), $"the slowest of {scrapes} scrapes took {slowest}");
        Assert.True(fills > 10_000, $"the map was filled only {fills} times");
        Assert.Equal(6, AgentOutput.Count(agent.Output, "Reload: program set maps replaced"));
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string PrometheusNumber(double v) => BpfAgent.Metrics.Exposition.PrometheusText.Number(v);

    /// <summary>The sum of the u64 at <paramref name="valueOffset"/> of every entry of a pinned map of the set, read by the test.</summary>
    private static double ReadPinnedSum(TestConfig config, string map, int valueOffset)
    {
        using PinnedBpfMap pinned = PinnedBpfMap.Open(ReliabilityConfig.PinOf(config, "maps", map)!);
        var reader = new BpfMapReader(pinned);
        double sum = 0;
        int n;
        while ((n = reader.ReadNext()) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                sum += reader.SumUnsigned(i, valueOffset);
            }
        }

        return sum;
    }

    public static string Json(int tgid) => $$"""
        {
          "object": "{{Paths.TestObject("map_metrics_test")}}",
          "parameters": { "target_tgid": {{tgid}} },
          "maps": [
            { "map": "counts_hash", "metrics": [
              { "name": "test_map_events_total", "type": "counter", "help": "Events by kind, small and code.",
                "labels": [ { "name": "kind", "field": "kind" }, { "name": "small", "field": "small" }, { "name": "code", "field": "in.code" } ] },
              { "name": "test_map_events_by_kind_total", "type": "counter", "labels": [ { "name": "kind", "field": "kind" } ], "maxSeries": 2 }
            ] },
            { "map": "counts_percpu", "metrics": [
              { "name": "test_percpu_events_total", "type": "counter", "value": "events", "labels": [ { "name": "kind", "field": "key" } ] },
              { "name": "test_percpu_bytes_total", "type": "counter", "value": "bytes", "labels": [ { "name": "kind", "field": "key" } ], "cpuLabel": "cpu" }
            ] },
            { "map": "counts_array", "metrics": [
              { "name": "test_array_events_total", "type": "counter", "labels": [ { "name": "index", "field": "key" } ] }
            ] },
            { "map": "gauge_lru", "metrics": [
              { "name": "test_last_arg", "type": "gauge", "labels": [ { "name": "kind", "field": "key" } ] }
            ] },
            { "map": "hist_exp2", "metrics": [
              { "name": "test_arg_exp2", "type": "histogram", "help": "Arguments, exp2.", "labels": [ { "name": "kind", "field": "kind" } ],
                "buckets": { "field": "bucket", "type": "exp2", "min": 0, "max": 20 } }
            ] },
            { "map": "hist_linear", "metrics": [
              { "name": "test_arg_linear", "type": "histogram", "help": "Arguments, linear.", "value": "count",
                "buckets": { "field": "key", "type": "linear", "min": 0, "max": 9, "multiplier": 1000 }, "sum": { "field": "sum" } }
            ] }
          ]
        }
        """;
}
