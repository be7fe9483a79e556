using System.Diagnostics.Metrics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>A counter that adds a field's (scaled) value, per series.</summary>
public sealed class FieldCounterUpdater(MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field), IObservedMetric
{
    public ObservedKind Kind => ObservedKind.Sum;

    public override void Update(ReadOnlySpan<byte> sample)
    {
        double v = Value(sample);
        if (v < 0)
        {
            return; // a counter never goes down; a negative field value is not countable
        }

        if (Labels.Find(sample) is LabelSeries s)
        {
            s.Sum += v;
        }
    }

    public IEnumerable<Measurement<double>> ObserveValues()
    {
        foreach (LabelSeries s in Labels.Series())
        {
            yield return new Measurement<double>(Volatile.Read(ref s.Sum), in s.TagList);
        }
    }
}
