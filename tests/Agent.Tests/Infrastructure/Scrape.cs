using System.Globalization;
using System.Text.RegularExpressions;

namespace BpfAgent.Tests;

/// <summary>GET /metrics and read values out of the Prometheus text format.</summary>
public static partial class Scrape
{
    public static async Task<string> MetricsAsync(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync(url + "/metrics");
    }

    /// <summary>
    /// The value of the first sample of <paramref name="name"/> whose labels include every pair in
    /// <paramref name="labels"/>; null when there is none.
    /// </summary>
    public static double? Value(string text, string name, params (string Key, string Value)[] labels)
    {
        foreach (string line in text.Split('\n'))
        {
            Match m = SampleLine().Match(line);
            if (!m.Success || m.Groups["name"].Value != name)
            {
                continue;
            }

            string l = m.Groups["labels"].Value;
            if (labels.All(p => l.Contains($"{p.Key}=\"{p.Value}\"", StringComparison.Ordinal)))
            {
                return double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})?\s+(?<value>\S+)")]
    private static partial Regex SampleLine();
}
