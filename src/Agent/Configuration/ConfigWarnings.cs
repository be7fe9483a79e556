namespace BpfAgent.Configuration;

/// <summary>
/// Settings that load and run but are probably not what was meant. `check` prints them, the daemon logs them at
/// warning; neither fails on them.
/// </summary>
public static class ConfigWarnings
{
    public static IReadOnlyList<ConfigError> For(IReadOnlyList<ProgramSetConfig> sets)
    {
        var warnings = new List<ConfigError>();
        foreach (ProgramSetConfig set in sets)
        {
            foreach (MetricConfig m in set.RingBuffers.SelectMany(r => r.Metrics))
            {
                // The default bounds (0, 5, 10, 25 ... 10000) are meant for milliseconds or counts: values scaled
                // down into seconds or bytes into megabytes all land in the first bucket or two.
                if (m.Kind == MetricKind.Histogram && m.Buckets is null && m.Scale < 1)
                {
                    warnings.Add(new ConfigError(set.File, $"{m.Key}.buckets",
                        $"histogram '{m.Name}' has \"scale\": {m.Scale.ToString(System.Globalization.CultureInfo.InvariantCulture)} but no \"buckets\"; the default bounds 0, 5, 10 ... 10000 fit almost none of its values",
                        "add \"buckets\" in the scaled unit, for example { \"exp2\": { \"min\": 0.000001, \"max\": 10 } } for seconds"));
                }
            }
        }

        return warnings;
    }
}
