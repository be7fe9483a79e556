using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace BpfAgent.Tests;

/// <summary>One sample line of the Prometheus text format.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string Label(string key) => Labels.TryGetValue(key, out string? v) ? v : "";
}

/// <summary>
/// Every sample of a /metrics scrape, selected by name and labels, and a bounded wait for counts to settle.
/// (<see cref="Scrape.Value"/> returns only the first match; tests that sum over series use this.)
/// </summary>
public static partial class MetricSamples
{
    public static IReadOnlyList<MetricSample> Parse(string text)
    {
        var samples = new List<MetricSample>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            Match m = SampleLine().Match(line);
            if (!m.Success)
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match l in LabelPair().Matches(m.Groups["labels"].Value))
            {
                labels[l.Groups["key"].Value] = Regex.Unescape(l.Groups["value"].Value);
            }

            samples.Add(new MetricSample(m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }

        return samples;
    }

    /// <summary>The samples of <paramref name="name"/> whose labels include every given pair.</summary>
    public static IReadOnlyList<MetricSample> Select(string text, string name, params (string Key, string Value)[] labels) =>
        Parse(text).Where(s => s.Name == name && labels.All(p => s.Labels.TryGetValue(p.Key, out string? v) && v == p.Value)).ToList();

    /// <summary>The sum over every matching series (0 when there is none).</summary>
    public static double Sum(string text, string name, params (string Key, string Value)[] labels) =>
        Select(text, name, labels).Sum(s => s.Value);

    /// <summary>
    /// Scrapes until <paramref name="reached"/> holds (or <paramref name="timeout"/> passes), then once more after
    /// <paramref name="settle"/> so an overshoot (events counted twice, or events of others) is seen too.
    /// Returns the last scrape; the caller asserts exact values on it.
    /// </summary>
    public static async Task<string> SettleAsync(string url, Func<string, bool> reached, TimeSpan timeout, TimeSpan? settle = null)
    {
        var sw = Stopwatch.StartNew();
        string text = await Scrape.MetricsAsync(url);
        while (!reached(text) && sw.Elapsed < timeout)
        {
            await Task.Delay(100);
            text = await Scrape.MetricsAsync(url);
        }

        await Task.Delay(settle ?? TimeSpan.FromMilliseconds(500));
        return await Scrape.MetricsAsync(url);
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\S+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();
}
