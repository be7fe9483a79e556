using System.Diagnostics.Metrics;
using BpfAgent.Configuration;

namespace BpfAgent.Metrics;

/// <summary>A counter of samples, per series.</summary>
public sealed class SampleCounterUpdater(MetricConfig config, LabelSet labels) : MetricUpdater(config, labels, null), IObservedMetric
{
    public ObservedKind Kind => ObservedKind.Count;

    public override void Update(ReadOnlySpan<byte> sample)
    {
        if (Labels.Find(sample) is LabelSeries s)
        {
            s.Count++; // null: a decoder dropped the label set (counted by the label set)
        }
    }

    public override void Update(SampleChunk chunk, int from)
    {
        LabelSet labels = Labels;
        int n = chunk.Count;
        for (int i = from; i < n; i++)
        {
            chunk.At = i;
            if (labels.Find(chunk[i]) is LabelSeries s)
            {
                s.Count++;
            }
        }
    }

    public IEnumerable<Measurement<long>> ObserveCounts()
    {
        foreach (LabelSeries s in Labels.Series())
        {
            yield return new Measurement<long>(Volatile.Read(ref s.Count), in s.TagList);
        }
    }
}
