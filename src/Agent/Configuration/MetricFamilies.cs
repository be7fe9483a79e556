namespace BpfAgent.Configuration;

/// <summary>
/// Metric names that differ in the config but not in the scrape: the exporter writes a counter <c>x</c> as
/// <c>x_total</c>, and a histogram <c>x</c> as <c>x_bucket</c>, <c>x_sum</c>, <c>x_count</c>. Two such metrics would
/// merge into one family with different label sets, which Prometheus rejects or mixes up.
/// </summary>
public static class MetricFamilies
{
    /// <summary>Every pair of metrics (in one set or across sets) whose exposed names meet, each as one error naming both.</summary>
    public static IReadOnlyList<ConfigError> Clashes(IReadOnlyList<ProgramSetConfig> sets)
    {
        var errors = new List<ConfigError>();
        var claimed = new Dictionary<string, (ProgramSetConfig Set, MetricConfig Metric)>(StringComparer.Ordinal);
        foreach (ProgramSetConfig set in sets)
        {
            IEnumerable<MetricConfig> fromMaps = set.Maps.SelectMany(m => m.Metrics).Select(m => new MetricConfig { Name = m.Name, Kind = m.Kind, Key = m.Key })
                .Concat(set.PerfCounters.Select(p => new MetricConfig { Name = p.Name, Kind = MetricKind.Counter, Key = p.Key }));
            foreach (MetricConfig metric in set.RingBuffers.SelectMany(r => r.Metrics).Concat(fromMaps))
            {
                (ProgramSetConfig Set, MetricConfig Metric)? first = null;
                foreach (string name in ExposedNames(metric))
                {
                    if (claimed.TryGetValue(name, out var other) && other.Metric.Name != metric.Name)
                    {
                        first ??= other;
                    }
                }

                if (first is { } o)
                {
                    string where = o.Set.Name == set.Name ? "" : $" of set {o.Set.Name}";
                    errors.Add(new ConfigError(set.File, $"{metric.Key}.name",
                        $"{Describe(metric)} and {Describe(o.Metric)}{where} are the same Prometheus family {Family(o.Metric)} (a counter's name gets _total)",
                        $"rename one of them, for example \"{Family(metric)}_other{(metric.Kind == MetricKind.Counter ? "_total" : "")}\""));
                    continue;
                }

                foreach (string name in ExposedNames(metric))
                {
                    claimed.TryAdd(name, (set, metric));
                }
            }
        }

        return errors;
    }

    /// <summary>The family name: a counter's without its <c>_total</c>.</summary>
    public static string Family(MetricConfig m) =>
        m.Kind == MetricKind.Counter && m.Name.EndsWith("_total", StringComparison.Ordinal) ? m.Name[..^"_total".Length] : m.Name;

    /// <summary>Every name a metric takes in text 0.0.4 and OpenMetrics: its family and its series names.</summary>
    internal static IEnumerable<string> ExposedNames(MetricConfig m)
    {
        string family = Family(m);
        yield return family;
        switch (m.Kind)
        {
            case MetricKind.Counter:
                yield return family + "_total";
                break;
            case MetricKind.Histogram:
                yield return family + "_bucket";
                yield return family + "_sum";
                yield return family + "_count";
                break;
        }
    }

    private static string Describe(MetricConfig m) => $"{m.Kind.ToString().ToLowerInvariant()} '{m.Name}'";
}
