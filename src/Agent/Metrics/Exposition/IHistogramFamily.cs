namespace BpfAgent.Metrics.Exposition;

/// <summary>A histogram aggregated outside OpenTelemetry (by the worker, or in a BPF map), as /metrics writes it.</summary>
public interface IHistogramFamily
{
    /// <summary>The family name (the samples are name_bucket, name_sum, name_count).</summary>
    string Name { get; }

    string Help { get; }

    IReadOnlyList<string> LabelNames { get; }

    /// <summary>Upper bounds, ascending, without +Inf.</summary>
    IReadOnlyList<double> Bounds { get; }

    /// <summary>The le text of each bound, when the family writes them otherwise than in plain decimal; null: decimal.</summary>
    IReadOnlyList<string>? BoundTexts => null;

    /// <summary>
    /// Each series once. The point is the caller's to reuse: it is valid only until the next call of
    /// <paramref name="write"/> returns.
    /// </summary>
    void Collect(HistogramPoint point, Action<HistogramPoint> write);
}

/// <summary>One series of a histogram family at scrape: label values, count per bucket (not cumulative, +Inf last), sum.</summary>
public sealed class HistogramPoint(int buckets)
{
    public IReadOnlyList<string?> LabelValues { get; set; } = [];

    public long[] Counts { get; } = new long[buckets];

    public double Sum { get; set; }

    /// <summary>Unix seconds when the series began (OpenMetrics _created), or NaN when unknown.</summary>
    public double Created { get; set; } = double.NaN;
}
