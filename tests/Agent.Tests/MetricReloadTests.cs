using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// Reloading a running set whose metrics changed (help, labels, buckets, the metric list) never leaves a stale or
/// duplicate series: after each reload every family appears once, a real Prometheus scrapes without error, and the
/// stored counter rises by exactly what was triggered (continued where kind and labels allow, restarted otherwise).
/// </summary>
public sealed class MetricReloadTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task Changed_help_labels_buckets_and_metric_list_keep_every_series_unique_and_counts_exact()
    {
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string file = config.AddSet("hist", HistogramTests.Json(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}");
        string job = PrometheusServer.Job;
        int reloads = 0;

        HistogramTests.Trigger(7);
        await StoredAsync(prometheus, $"test_events_total{{job=\"{job}\"}}", 7);

        // 1. Only the help texts change: the same series continue, with the new help.
        await ReloadAsync(agent, file, HistogramTests.DefaultMetrics.Replace("\"Events.\"", "\"Events, help changed.\"", StringComparison.Ordinal)
            .Replace("\"Latency.\"", "\"Latency, help changed.\"", StringComparison.Ordinal), ++reloads);
        HistogramTests.Trigger(5);
        string text = await SettleAsync(config.Url, t => Sum(t, "test_events_total") >= 12, s_wait);
        AssertUnique(text);
        Assert.Equal(12, Assert.Single(Select(text, "test_events_total")).Value);
        Assert.Equal(12, Sum(text, "test_latency_seconds_count"));
        Assert.Contains("# HELP test_events_total Events, help changed.", text, StringComparison.Ordinal);
        Assert.Contains("# HELP test_latency_seconds Latency, help changed.", text, StringComparison.Ordinal);
        await StoredAsync(prometheus, $"test_events_total{{job=\"{job}\"}}", 12);

        // 2. The counter gains a label: its old series goes, the labelled one counts from zero.
        string labelled = HistogramTests.DefaultMetrics.Replace(
            "{ \"name\": \"test_events_total\", \"type\": \"counter\", \"help\": \"Events.\" }",
            "{ \"name\": \"test_events_total\", \"type\": \"counter\", \"help\": \"Events.\", \"labels\": [ { \"name\": \"kind\", \"field\": \"kind\" } ] }",
            StringComparison.Ordinal);
        Assert.NotEqual(HistogramTests.DefaultMetrics, labelled);
        await ReloadAsync(agent, file, labelled, ++reloads);
        HistogramTests.Trigger(4); // 1500 % 3 == 0
        text = await SettleAsync(config.Url, t => Sum(t, "test_events_total") >= 4, s_wait);
        AssertUnique(text);
        Assert.Equal([("0", 4.0)], Select(text, "test_events_total").Select(s => (s.Label("kind"), s.Value)));
        Assert.Equal(16, Sum(text, "test_latency_seconds_count")); // the histogram is unchanged: it continues
        await StoredAsync(prometheus, $"test_events_total{{job=\"{job}\"}}", 4, kind: "0");

        // 3. The histogram's buckets change: its series restart (said in the log); the counter continues.
        string rebucketed = labelled.Replace("\"buckets\": { \"exp2\": { \"min\": 0.000001, \"max\": 1 } }", "\"buckets\": [0.000001, 0.00001]", StringComparison.Ordinal);
        Assert.NotEqual(labelled, rebucketed);
        await ReloadAsync(agent, file, rebucketed, ++reloads);
        Assert.Contains("metric test_latency_seconds changed its kind, labels or buckets", agent.Output, StringComparison.Ordinal);
        HistogramTests.Trigger(3);
        text = await SettleAsync(config.Url, t => Sum(t, "test_latency_seconds_count") >= 3, s_wait);
        AssertUnique(text);
        Assert.Equal(3, Sum(text, "test_latency_seconds_count"));
        Assert.Equal(3, Sum(text, "test_latency_seconds_bucket", ("le", "0.00001")));
        Assert.Equal(3, Select(text, "test_latency_seconds_bucket").Count); // two bounds and +Inf: one series
        Assert.Equal(7, Sum(text, "test_events_total", ("kind", "0")));
        await StoredAsync(prometheus, $"test_events_total{{job=\"{job}\"}}", 7, kind: "0");

        // 4. The metric list changes: one histogram removed, a gauge added.
        int start = rebucketed.IndexOf("{ \"name\": \"test_latency_by_kind_seconds\"", StringComparison.Ordinal);
        string listChanged = rebucketed[..start] + "{ \"name\": \"test_latency_last_seconds\", \"type\": \"gauge\", \"help\": \"Last latency.\", \"field\": \"latency_ns\", \"scale\": 1e-9 }\n]";
        await ReloadAsync(agent, file, listChanged, ++reloads);
        HistogramTests.Trigger(2);
        text = await SettleAsync(config.Url, t => Sum(t, "test_events_total") >= 9, s_wait);
        AssertUnique(text);
        Assert.Empty(Select(text, "test_latency_by_kind_seconds_count"));
        Assert.DoesNotContain("test_latency_by_kind_seconds", text, StringComparison.Ordinal);
        Assert.Equal(0.0000015, Assert.Single(Select(text, "test_latency_last_seconds")).Value, 12);
        Assert.Equal(9, Sum(text, "test_events_total", ("kind", "0")));
        await StoredAsync(prometheus, $"test_events_total{{job=\"{job}\"}}", 9, kind: "0");
        var gone = await prometheus.QueryUntilAsync($"test_latency_by_kind_seconds_count{{job=\"{job}\"}}", r => r.Count == 0, s_wait);
        Assert.Empty(gone);

        System.Text.Json.JsonElement target = Assert.Single((await prometheus.ApiAsync("targets?state=active")).GetProperty("activeTargets").EnumerateArray());
        Assert.Equal("", target.GetProperty("lastError").GetString());
    }

    private static async Task ReloadAsync(AgentProcess agent, string file, string metrics, int reloads)
    {
        File.WriteAllText(file, HistogramTests.Json(Environment.ProcessId, metrics));
        AgentOutput.Hangup(agent);
        Assert.True(await AgentOutput.WaitForCountAsync(agent, "Reload finished: ", reloads, s_wait), $"reload {reloads} did not finish:\n{agent.Output}");
        Assert.Contains("Reload: program set hist replaced", agent.Output, StringComparison.Ordinal);
    }

    /// <summary>Every family's TYPE once, every series once (no two samples with the same name and labels).</summary>
    private static void AssertUnique(string text)
    {
        string[] types = [.. text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal))];
        Assert.Equal(types.Length, types.Distinct(StringComparer.Ordinal).Count());
        var keys = Parse(text).Select(s => s.Name + "{" + string.Join(",", s.Labels.OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}").ToList();
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
    }

    /// <summary>Waits until Prometheus holds exactly one series of the query, with the value expected.</summary>
    private static async Task StoredAsync(PrometheusServer prometheus, string selector, double expected, string? kind = null)
    {
        var r = await prometheus.QueryUntilAsync(selector, r => r.Count == 1 && r[0].Value == expected, s_wait);
        Assert.True(r.Count == 1, $"{selector}: {r.Count} series in Prometheus: {string.Join("; ", r.Select(x => string.Join(",", x.Labels) + "=" + x.Value))}");
        Assert.Equal(expected, r[0].Value);
        if (kind is not null)
        {
            Assert.Equal(kind, r[0].Labels["kind"]);
        }
    }
}
