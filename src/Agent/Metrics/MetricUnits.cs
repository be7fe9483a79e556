namespace BpfAgent.Metrics;

/// <summary>The base unit a Prometheus metric name ends in (its OpenMetrics <c># UNIT</c>), by the naming convention.</summary>
public static class MetricUnits
{
    private static readonly (string Suffix, string Unit, string OpenTelemetry)[] s_units =
    [
        ("_seconds", "seconds", "s"),
        ("_bytes", "bytes", "By"),
        ("_ratio", "ratio", "1"),
    ];

    /// <summary>The unit of <paramref name="familyName"/> (without a counter's _total), or null.</summary>
    public static string? Unit(string familyName)
    {
        foreach ((string suffix, string unit, _) in s_units)
        {
            if (familyName.EndsWith(suffix, StringComparison.Ordinal))
            {
                return unit;
            }
        }

        return null;
    }

    /// <summary>The UCUM unit OpenTelemetry's Prometheus exporter turns into that suffix and <c># UNIT</c>.</summary>
    public static string? OpenTelemetryUnit(string metricName)
    {
        string family = metricName.EndsWith("_total", StringComparison.Ordinal) ? metricName[..^"_total".Length] : metricName;
        foreach ((string suffix, _, string otel) in s_units)
        {
            if (family.EndsWith(suffix, StringComparison.Ordinal))
            {
                return otel;
            }
        }

        return null;
    }
}
