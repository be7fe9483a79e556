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

    // A run of samples of one series (the common case: bursts) is counted in a local and added once, not with a
    // read-modify-write of the series' count per sample, which each next sample would have to wait for.
    public override void Update(SampleChunk chunk, int from)
    {
        LabelSet labels = Labels;
        LabelSeries? run = null;
        long count = 0;
        int n = chunk.Count;
        try
        {
            for (int i = from; i < n; i++)
            {
                chunk.At = i;
                LabelSeries? s = labels.Find(chunk[i]); // null: a decoder dropped the label set (counted by the label set)
                if (!ReferenceEquals(s, run))
                {
                    if (run is not null)
                    {
                        run.Count += count;
                    }

                    run = s;
                    count = 0;
                }

                count++;
            }
        }
        finally
        {
            if (run is not null)
            {
                run.Count += count; // also when a sample threw: the ones before it are counted
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
