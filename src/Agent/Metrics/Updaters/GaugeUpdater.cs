using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>A gauge: the last (scaled) value of a field, per series.</summary>
public sealed class GaugeUpdater(MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
{
    public override void Update(ReadOnlySpan<byte> sample)
    {
        double v = Value(sample);
        LabelSeries s = Labels.Find(sample);
        s.LastValue = v;
        s.HasValue = true;
    }
}
