using System.Globalization;

namespace BpfAgent.Tests;

/// <summary>
/// The OpenMetrics 1.0 rules a scrape must keep, checked line by line (promtool 2.42 reads only the text format):
/// one # EOF, last; each family's TYPE once and before its samples; a family's samples together; histogram
/// buckets cumulative, ending in +Inf, with _count equal to the +Inf bucket; bounds without exponents.
/// </summary>
public static class OpenMetricsCheck
{
    public static IReadOnlyList<string> Problems(string text)
    {
        var problems = new List<string>();
        string[] lines = text.Split('\n');
        int eof = Array.IndexOf(lines, "# EOF");
        if (eof < 0 || lines.Count(l => l == "# EOF") != 1 || lines.Skip(eof + 1).Any(l => l.Length > 0))
        {
            problems.Add("there must be exactly one '# EOF', as the last line");
        }

        var types = new Dictionary<string, string>(StringComparer.Ordinal);
        var closed = new HashSet<string>(StringComparer.Ordinal);
        string? current = null;
        var lastBucket = new Dictionary<string, (double Le, double Value)>(StringComparer.Ordinal);
        foreach (string line in lines.Take(eof < 0 ? lines.Length : eof))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ');
                string family = parts[2];
                if (!types.TryAdd(family, parts[3]))
                {
                    problems.Add($"family {family} has a second TYPE line");
                }

                if (current is not null)
                {
                    closed.Add(current);
                }

                current = family;
                continue;
            }

            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            MetricSample s = MetricSamples.Parse(line).Single();
            string? owner = Family(s.Name, types);
            if (owner is null)
            {
                problems.Add($"sample {s.Name} comes before (or without) its family's TYPE");
                continue;
            }

            if (owner != current || closed.Contains(owner))
            {
                problems.Add($"sample {s.Name} is not with the rest of family {owner}");
            }

            if (types[owner] != "histogram")
            {
                continue;
            }

            string series = owner + "{" + string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key, StringComparer.Ordinal).Select(l => $"{l.Key}={l.Value}")) + "}";
            if (s.Name == owner + "_bucket")
            {
                string leText = s.Labels["le"];
                if (leText.Contains('e', StringComparison.OrdinalIgnoreCase) && leText != "+Inf")
                {
                    problems.Add($"{series}: bound le=\"{leText}\" is not plain decimal");
                }

                double le = leText == "+Inf" ? double.PositiveInfinity : double.Parse(leText, CultureInfo.InvariantCulture);
                if (lastBucket.TryGetValue(series, out var last) && (le <= last.Le || s.Value < last.Value))
                {
                    problems.Add($"{series}: buckets not ascending and cumulative at le={leText}");
                }

                lastBucket[series] = (le, s.Value);
            }
            else if (s.Name == owner + "_count")
            {
                if (!lastBucket.TryGetValue(series, out var last) || !double.IsPositiveInfinity(last.Le) || last.Value != s.Value)
                {
                    problems.Add($"{series}: _count {s.Value} is not its +Inf bucket");
                }
            }
        }

        return problems;
    }

    private static string? Family(string sample, Dictionary<string, string> types)
    {
        if (types.ContainsKey(sample))
        {
            return sample;
        }

        foreach (string suffix in new[] { "_total", "_created", "_bucket", "_sum", "_count", "_info" })
        {
            if (sample.EndsWith(suffix, StringComparison.Ordinal) && types.ContainsKey(sample[..^suffix.Length]))
            {
                return sample[..^suffix.Length];
            }
        }

        return null;
    }
}
