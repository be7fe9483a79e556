using System.Text.Json;

namespace BpfAgent.Configuration;

/// <summary>One program set: a BPF object, what to attach, its parameters, and how its ring buffers become metrics and logs.</summary>
public sealed record ProgramSetConfig
{
    /// <summary>The set's name (file name without .json): used in pin paths, labels and logs.</summary>
    public required string Name { get; init; }

    /// <summary>The config file this set came from.</summary>
    public required string File { get; init; }

    /// <summary>Absolute path of the BPF object.</summary>
    public required string ObjectPath { get; init; }

    /// <summary>
    /// When true, any failure of this set (even a missing object or struct) is reported and the agent runs on;
    /// when false (default), configuration mistakes in this set stop the agent at startup with status 78.
    /// </summary>
    public bool Optional { get; init; }

    /// <summary>Programs to attach by name; null attaches every program whose section allows auto-attach.</summary>
    public IReadOnlyList<string>? Programs { get; init; }

    /// <summary>Globals (usually <c>const volatile</c> rodata) set before load.</summary>
    public IReadOnlyList<ParameterConfig> Parameters { get; init; } = [];

    public PinningConfig Pinning { get; init; } = new();

    public IReadOnlyList<RingConfig> RingBuffers { get; init; } = [];

    /// <summary>Maps the programs aggregate into, read when /metrics is scraped.</summary>
    public IReadOnlyList<MapConfig> Maps { get; init; } = [];

    /// <summary>Counters of the samples written to perf event arrays (ebpf_exporter's perf_event_array counters).</summary>
    public IReadOnlyList<PerfCounterConfig> PerfCounters { get; init; } = [];

    /// <summary>Maps the agent keeps holding the ids of the cgroups whose path matches (ebpf_exporter's cgroup_id_map).</summary>
    public IReadOnlyList<CgroupIdMapConfig> CgroupIdMaps { get; init; } = [];

    /// <summary>Alternative programs chosen by what the kernel has; empty: the object has one way of running.</summary>
    public IReadOnlyList<VariantConfig> Variants { get; init; } = [];

    /// <summary>Warn (and flag in health) when more than this fraction of a ring's samples is dropped; null: off.</summary>
    public double? DropAlarmRatio { get; init; }
}

/// <summary>A global set before load; <see cref="Value"/> is a JSON number, boolean or string.</summary>
public sealed record ParameterConfig(string Name, JsonElement Value, string Key);

public sealed record PinningConfig
{
    /// <summary>Pin the set's maps under the pin root (default true), so their state survives restarts.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>When a pinned map no longer matches the object: fail the set (false, default) or replace the pin, losing its state.</summary>
    public bool ReplaceIncompatible { get; init; }
}

/// <summary>A ring buffer map and what its samples become.</summary>
public sealed record RingConfig
{
    public required string Map { get; init; }

    /// <summary>The C struct (in the object's BTF) each sample is.</summary>
    public required string Struct { get; init; }

    public required string Key { get; init; }

    public IReadOnlyList<MetricConfig> Metrics { get; init; } = [];

    public LogConfig? Log { get; init; }
}

public enum MetricKind
{
    Counter,
    Histogram,
    Gauge,
}

public sealed record MetricConfig
{
    public required string Name { get; init; }

    public required MetricKind Kind { get; init; }

    public required string Key { get; init; }

    public string Help { get; init; } = "";

    /// <summary>The field whose value is counted, observed or set; null for a counter of samples.</summary>
    public string? Field { get; init; }

    /// <summary>Multiplier applied to the field, for example 1e-9 for nanoseconds to seconds.</summary>
    public double Scale { get; init; } = 1;

    /// <summary>Histogram bucket upper bounds, ascending.</summary>
    public IReadOnlyList<double>? Buckets { get; init; }

    public IReadOnlyList<LabelConfig> Labels { get; init; } = [];

    /// <summary>Most label sets this metric may have; further ones go to one overflow series.</summary>
    public int MaxSeries { get; init; } = 1000;
}

public sealed record LabelConfig
{
    /// <summary>The Prometheus label name.</summary>
    public required string Name { get; init; }

    /// <summary>The struct field (dotted for nested structs).</summary>
    public required string Field { get; init; }

    public required string Key { get; init; }

    /// <summary>How the field's value becomes the label's: decoders applied in order (empty: by the field's BTF type).</summary>
    public IReadOnlyList<BpfAgent.Decoding.DecoderSpec> Decoders { get; init; } = [];
}

public sealed record LogConfig
{
    public required string Key { get; init; }

    public Serilog.Events.LogEventLevel Level { get; init; } = Serilog.Events.LogEventLevel.Information;

    /// <summary>A Serilog message template whose {placeholders} are field names.</summary>
    public required string Message { get; init; }

    /// <summary>Most events logged per second; the rest are counted and summarised.</summary>
    public double RatePerSecond { get; init; } = 10;

    /// <summary>Decoders for placeholders that need one (default: by BTF type).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<BpfAgent.Decoding.DecoderSpec>> Decoders { get; init; } =
        new Dictionary<string, IReadOnlyList<BpfAgent.Decoding.DecoderSpec>>();
}
