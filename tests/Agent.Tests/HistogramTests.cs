using System.Diagnostics;
using System.Globalization;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// Histograms the agent aggregates itself, as Prometheus sees them: exact counts and sums against what the test's
/// BPF program produced (its own in-kernel counters), real histogram families in both exposition formats, and a
/// real Prometheus whose histogram_quantile lands in the bucket of the test's known latencies.
/// </summary>
public sealed class HistogramTests
{
    // latency_ns values the test submits through getpgid(value), and how often: 10 in (1, 2] us, 5 in (2, 4] us,
    // 3 in (64, 128] us, 2 above the top bound (1.048576 s).
    private static readonly (int Ns, int Times)[] s_latencies = [(1500, 10), (3000, 5), (100_000, 3), (2_000_000_000, 2)];

    public const string ExplicitBuckets = "[0.000001, 0.00001, 0.0001, 0.001]";

    [KernelFact]
    public async Task Exact_counts_and_sums_real_histogram_families_and_Prometheus_quantiles()
    {
        using var config = new TestConfig();
        config.AddSet("hist", Json(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}");

        int total = Trigger();
        string text = await SettleAsync(config.Url, t => Sum(t, "test_latency_seconds_count") >= total, TimeSpan.FromSeconds(20));

        // What the kernel side produced, read from the set's pinned counters.
        long produced = ProcessFacts.ReadPinnedPerCpuSum(ReliabilityConfig.PinOf(config, "hist", "hist_produced")!);
        long producedNs = ProcessFacts.ReadPinnedPerCpuSum(ReliabilityConfig.PinOf(config, "hist", "hist_produced_sum")!);
        Assert.Equal(total, produced);
        Assert.Equal(produced, Sum(text, "test_latency_seconds_count"));
        Assert.Equal(producedNs * 1e-9, Sum(text, "test_latency_seconds_sum"), 12);
        Assert.Equal(produced, Sum(text, "test_events_total"));

        // Cumulative buckets, each exactly as the known latencies fall.
        Assert.Equal(0, Bucket(text, "0.000001"));
        Assert.Equal(10, Bucket(text, "0.000002"));
        Assert.Equal(15, Bucket(text, "0.000004"));
        Assert.Equal(15, Bucket(text, "0.000064"));
        Assert.Equal(18, Bucket(text, "0.000128"));
        Assert.Equal(18, Bucket(text, "1.048576"));
        Assert.Equal(20, Bucket(text, "+Inf"));

        // Labelled, with explicit bounds: each series counts exactly its values.
        foreach (var kind in s_latencies.GroupBy(l => l.Ns % 3))
        {
            Assert.Equal(kind.Sum(l => l.Times), Sum(text, "test_latency_by_kind_seconds_count", ("kind", kind.Key.ToString(CultureInfo.InvariantCulture))));
        }

        // The text format: one family, TYPE histogram, promtool finds nothing.
        Assert.Single(text.Split('\n'), l => l == "# TYPE test_latency_seconds histogram");
        Assert.DoesNotContain("E-0", text, StringComparison.Ordinal);
        string problems = await PrometheusTests.PromtoolAsync(text);
        Assert.True(problems.Length == 0, $"promtool check metrics:\n{problems}");

        // OpenMetrics: the same families, one # EOF last, _created as the exporter writes for its counters, # UNIT.
        string om = await ScrapeOpenMetricsAsync(config.Url);
        Assert.Empty(OpenMetricsCheck.Problems(om));
        Assert.Contains("# UNIT test_latency_seconds seconds", om, StringComparison.Ordinal);
        Assert.Single(Select(om, "test_latency_seconds_created"));
        Assert.Equal(produced, Sum(om, "test_latency_seconds_count"));

        // Prometheus scraped it (OpenMetrics, which it asks for first) without an error, and its quantiles land where the
        // known latencies are: the median (rank 10 of 20) in (1, 2] us, the 70th percentile (rank 14) in (2, 4] us, the
        // 85th (rank 17) in (64, 128] us.
        string job = PrometheusServer.Job;
        var median = await prometheus.QueryUntilAsync($"histogram_quantile(0.5, test_latency_seconds_bucket{{job=\"{job}\"}})",
            r => r.Count == 1 && !double.IsNaN(r[0].Value), TimeSpan.FromSeconds(20));
        Assert.InRange(Assert.Single(median).Value, 0.000001, 0.000002);
        var p70 = await prometheus.QueryAsync($"histogram_quantile(0.7, test_latency_seconds_bucket{{job=\"{job}\"}})");
        Assert.InRange(Assert.Single(p70).Value, 0.000002, 0.000004);
        var p85 = await prometheus.QueryAsync($"histogram_quantile(0.85, test_latency_seconds_bucket{{job=\"{job}\"}})");
        Assert.InRange(Assert.Single(p85).Value, 0.000064, 0.000128);
        var byKind = await prometheus.QueryAsync($"histogram_quantile(0.5, sum by (kind, le) (test_latency_by_kind_seconds_bucket{{job=\"{job}\"}}))");
        Assert.Equal(3, byKind.Count);
        System.Text.Json.JsonElement target = Assert.Single((await prometheus.ApiAsync("targets?state=active")).GetProperty("activeTargets").EnumerateArray());
        Assert.Equal("", target.GetProperty("lastError").GetString());
    }

    /// <summary>Submits every latency of <see cref="s_latencies"/>; returns how many.</summary>
    public static int Trigger()
    {
        int n = 0;
        foreach ((int ns, int times) in s_latencies)
        {
            for (int i = 0; i < times; i++)
            {
                _ = Tmds.Linux.LibC.getpgid(ns);
                n++;
            }
        }

        return n;
    }

    public static int Trigger(int times)
    {
        for (int i = 0; i < times; i++)
        {
            _ = Tmds.Linux.LibC.getpgid(1500);
        }

        return times;
    }

    public static async Task<string> ScrapeOpenMetricsAsync(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, url + "/metrics");
        request.Headers.TryAddWithoutValidation("Accept", "application/openmetrics-text;version=1.0.0;charset=utf-8");
        using HttpResponseMessage response = await http.SendAsync(request);
        Assert.StartsWith("application/openmetrics-text", response.Content.Headers.ContentType?.MediaType ?? "", StringComparison.Ordinal);
        return await response.Content.ReadAsStringAsync();
    }

    private static double Bucket(string text, string le) => Sum(text, "test_latency_seconds_bucket", ("le", le));

    /// <summary>histogram_test.bpf.o for <paramref name="tgid"/>, with the metrics given (default: a counter and two histograms).</summary>
    public static string Json(int tgid, string? metrics = null) => $$"""
        {
          "object": "{{Paths.TestObject("histogram_test")}}",
          "parameters": { "target_tgid": {{tgid}} },
          "ringBuffers": [
            {
              "map": "latency_events",
              "struct": "latency_event",
              "metrics": {{metrics ?? DefaultMetrics}}
            }
          ]
        }
        """;

    public const string DefaultMetrics = $$"""
        [
          { "name": "test_events_total", "type": "counter", "help": "Events." },
          { "name": "test_latency_seconds", "type": "histogram", "help": "Latency.", "field": "latency_ns", "scale": 1e-9,
            "buckets": { "exp2": { "min": 0.000001, "max": 1 } } },
          { "name": "test_latency_by_kind_seconds", "type": "histogram", "help": "Latency by kind.", "field": "latency_ns", "scale": 1e-9,
            "buckets": {{ExplicitBuckets}}, "labels": [ { "name": "kind", "field": "kind" } ] }
        ]
        """;
}
