using BpfAgent.Configuration;

namespace BpfAgent.Metrics;

/// <summary>A counter of samples, per series.</summary>
public sealed class SampleCounterUpdater(MetricConfig config, LabelSet labels) : MetricUpdater(config, labels, null)
{
    public override void Update(ReadOnlySpan<byte> sample) => Labels.Find(sample).Count++;
}
