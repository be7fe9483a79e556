using System.Diagnostics.Metrics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>A gauge: the last (scaled) value of a field, per series.</summary>
public sealed class GaugeUpdater(MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field), IObservedMetric
{
    public ObservedKind Kind => ObservedKind.Gauge;

    public override void Update(ReadOnlySpan<byte> sample)
    {
        double v = Value(sample);
        if (Labels.Find(sample) is LabelSeries s)
        {
            s.LastValue = v;
            s.HasValue = true;
        }
    }

    public IEnumerable<Measurement<double>> ObserveValues()
    {
        foreach (LabelSeries s in Labels.Series())
        {
            if (Volatile.Read(ref s.HasValue))
            {
                yield return new Measurement<double>(Volatile.Read(ref s.LastValue), in s.TagList);
            }
        }
    }
}
