using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// A set's config checked against its object and turned into everything loading needs (<see cref="ProgramSetPlanner"/>
/// makes it, <see cref="ProgramSetBuilder"/> loads from it): the opened object with its programs chosen, its parameters
/// and variant applied, a <see cref="SampleProcessor"/> per ring, a plan per map read at scrape, the perf counters'
/// labels. Owns the opened object until the builder loads it.
/// </summary>
public sealed class ProgramSetPlan(ProgramSetConfig config, OpenBpfObject open, VariantChoice variant, StackMapBinding stackMaps) : IDisposable
{
    public ProgramSetConfig Config { get; } = config;

    public OpenBpfObject Open { get; } = open;

    public VariantChoice Variant { get; } = variant;

    /// <summary>The object's stack maps, given to the decoders that read them once the object is loaded.</summary>
    public StackMapBinding StackMaps { get; } = stackMaps;

    /// <summary>Each configured ring's sample processor, in config order.</summary>
    public List<(RingConfig Ring, SampleProcessor Processor)> Rings { get; } = [];

    public List<MapPlan> Maps { get; } = [];

    public List<(PerfCounterConfig Counter, IReadOnlyList<(string, FieldValueDecoder)> Labels)> PerfCounters { get; } = [];

    public void Dispose() => Open.Dispose();
}
