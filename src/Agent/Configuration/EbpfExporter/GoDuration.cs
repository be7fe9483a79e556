using System.Globalization;
using System.Text.RegularExpressions;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>A duration as Go's <c>time.ParseDuration</c> writes them (ebpf_exporter's <c>flush_interval</c>): <c>1h30m</c>, <c>45s</c>, <c>250ms</c>.</summary>
internal static partial class GoDuration
{
    public static TimeSpan? Parse(string text)
    {
        if (text == "0")
        {
            return TimeSpan.Zero;
        }

        Match m = Duration().Match(text);
        if (!m.Success)
        {
            return null;
        }

        double ms = 0;
        foreach (Capture c in m.Groups["part"].Captures)
        {
            Match p = Part().Match(c.Value);
            double n = double.Parse(p.Groups["n"].Value, CultureInfo.InvariantCulture);
            ms += n * p.Groups["u"].Value switch
            {
                "ns" => 1e-6,
                "us" or "µs" => 1e-3,
                "ms" => 1,
                "s" => 1e3,
                "m" => 60e3,
                _ => 3600e3,
            };
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    [GeneratedRegex(@"^(?<part>[0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$")]
    private static partial Regex Duration();

    [GeneratedRegex(@"^(?<n>[0-9]+(\.[0-9]+)?)(?<u>ns|us|µs|ms|s|m|h)$")]
    private static partial Regex Part();
}
