namespace BpfAgent.Configuration;

/// <summary>A BPF map (hash, array, per-CPU...) the programs aggregate into, and the metrics read from it at scrape.</summary>
public sealed record MapConfig
{
    public required string Map { get; init; }

    public required string Key { get; init; }

    public IReadOnlyList<MapMetricConfig> Metrics { get; init; } = [];
}

/// <summary>How the key field that holds a histogram's bucket index maps to upper bounds (ebpf_exporter's bucket types).</summary>
public enum BucketKind
{
    /// <summary>Index i is the bucket (2^(i-1), 2^i] × multiplier: upper bound 2^i × multiplier.</summary>
    Exp2,

    /// <summary>As exp2, with index 0 for zero: upper bound 0 for index 0, 2^(i-1) × multiplier for i ≥ 1.</summary>
    Exp2Zero,

    /// <summary>Upper bound i × multiplier.</summary>
    Linear,

    /// <summary>The index is one of <see cref="MapBucketsConfig.Keys"/>; upper bound key × multiplier.</summary>
    Fixed,
}

/// <summary>How a histogram's le label writes its bounds.</summary>
public enum LeFormat
{
    /// <summary>Plain decimal (0.000001), bpf-agent's own.</summary>
    Decimal,

    /// <summary>As Go's Prometheus client writes them (1e-06, 1.048576e+06): ebpf_exporter's, so its dashboards match.</summary>
    Go,
}

public sealed record MapBucketsConfig
{
    /// <summary>The key field holding the bucket index.</summary>
    public required string Field { get; init; }

    public BucketKind Kind { get; init; } = BucketKind.Exp2;

    public double Multiplier { get; init; } = 1;

    public int Min { get; init; }

    public int Max { get; init; }

    /// <summary>For <see cref="BucketKind.Fixed"/>: the indexes, ascending.</summary>
    public IReadOnlyList<double>? Keys { get; init; }

    public LeFormat LeFormat { get; init; } = LeFormat.Decimal;
}

/// <summary>One metric read from a map: a counter or gauge per key, or a histogram whose key holds a bucket index.</summary>
public sealed record MapMetricConfig
{
    public required string Name { get; init; }

    public required MetricKind Kind { get; init; }

    public required string Key { get; init; }

    public string Help { get; init; } = "";

    /// <summary>A field of the value struct; null when the value is a scalar.</summary>
    public string? Value { get; init; }

    /// <summary>Multiplier of the value (counters and gauges).</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Key fields as labels (for a histogram, all but the bucket field that are wanted).</summary>
    public IReadOnlyList<LabelConfig> Labels { get; init; } = [];

    /// <summary>Per-CPU maps: keep each CPU's value as its own series with this label instead of summing them.</summary>
    public string? CpuLabel { get; init; }

    public MapBucketsConfig? Buckets { get; init; }

    /// <summary>
    /// Histograms: the value-struct field summed for _sum (times <see cref="SumScale"/>); null keeps ebpf_exporter's
    /// convention, the value at bucket index max + 1 (last key + 1 for fixed) times the multiplier.
    /// </summary>
    public string? SumField { get; init; }

    public double SumScale { get; init; } = 1;

    public int MaxSeries { get; init; } = 1000;
}
