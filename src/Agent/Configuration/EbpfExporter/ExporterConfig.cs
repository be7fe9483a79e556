using BpfAgent.Decoding;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// One ebpf_exporter config (<c>&lt;name&gt;.yaml</c> beside <c>&lt;name&gt;.bpf.o</c>) as its schema states it, read but
/// not yet checked against the object: metrics whose map is named after them, keys cut into labels by size and
/// padding, symbols whose addresses go into <c>kaddr_&lt;symbol&gt;</c> globals.
/// </summary>
internal sealed record ExporterConfig(string Name, string File, string ObjectPath)
{
    public List<ExporterMetric> Metrics { get; } = [];

    /// <summary>Kernel symbols whose addresses are written into <c>const volatile u64 kaddr_&lt;symbol&gt;</c> before load.</summary>
    public List<string> Kaddrs { get; init; } = [];

    /// <summary>The map the agent keeps holding the ids of the cgroups whose path matches, or null.</summary>
    public CgroupIdMapConfig? CgroupIdMap { get; set; }
}

internal enum ExporterMetricKind
{
    Counter,
    Histogram,
}

/// <summary>A counter or histogram of ebpf_exporter: its name is also its map's name.</summary>
internal sealed record ExporterMetric
{
    public required ExporterMetricKind Kind { get; init; }

    /// <summary>The map's name and the metric's name without the <c>ebpf_exporter_</c> prefix.</summary>
    public required string Name { get; init; }

    public required string Help { get; init; }

    /// <summary>Where it is in the file, such as <c>metrics.counters[0]</c>.</summary>
    public required string Key { get; init; }

    public required IReadOnlyList<ExporterLabel> Labels { get; init; }

    /// <summary>Counters whose value is several u64s: one metric per value, by position (empty: the value is one u64).</summary>
    public IReadOnlyList<(string Name, string Help)> Values { get; init; } = [];

    /// <summary>A counter of the samples written to the perf event array of its name, rather than a map read.</summary>
    public bool PerfEventArray { get; init; }

    public TimeSpan FlushInterval { get; init; } = PerfCounterConfig.DefaultFlushInterval;

    public BucketKind BucketKind { get; init; }

    public double BucketMultiplier { get; init; } = 1;

    public int BucketMin { get; init; }

    public int BucketMax { get; init; }

    public IReadOnlyList<double>? BucketKeys { get; init; }
}

/// <summary>The next <see cref="Size"/> bytes of the key, then <see cref="Padding"/> bytes skipped.</summary>
internal sealed record ExporterLabel(string Name, int Size, int Padding, IReadOnlyList<DecoderSpec> Decoders, string Key);
