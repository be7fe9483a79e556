using BpfAgent.Decoding;

namespace BpfAgent.Configuration;

/// <summary>
/// A counter of the samples a program writes to a BPF_MAP_TYPE_PERF_EVENT_ARRAY (ebpf_exporter's
/// <c>perf_event_array: true</c>): each sample's first bytes are cut into labels, and the series of those labels
/// counts one. Every <see cref="FlushInterval"/> the series start again, as ebpf_exporter resets them.
/// </summary>
public sealed record PerfCounterConfig(string Map, string Name, string Help, IReadOnlyList<PerfCounterLabel> Labels, TimeSpan FlushInterval, string Key)
{
    /// <summary>ebpf_exporter's default flush interval.</summary>
    public static readonly TimeSpan DefaultFlushInterval = TimeSpan.FromHours(1);

    public int MaxSeries { get; init; } = 100_000;
}

/// <summary><see cref="Size"/> bytes of a sample at <see cref="Offset"/>, decoded by a chain.</summary>
public sealed record PerfCounterLabel(string Name, int Offset, int Size, IReadOnlyList<DecoderSpec> Decoders, string Key);
