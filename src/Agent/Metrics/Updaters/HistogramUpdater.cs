using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Exposition;
using BpfAgent.Metrics.Histograms;

namespace BpfAgent.Metrics;

/// <summary>
/// A histogram aggregated by the agent: per series a count per bucket and the exact sum (the count is the sum of
/// the buckets). One bucket index and two plain adds per sample.
/// </summary>
public sealed class HistogramUpdater(MetricConfig config, LabelSet labels, EventField field, BucketLayout layout) : MetricUpdater(config, labels, field), IHistogramFamily
{
    public BucketLayout Layout { get; } = layout;

    private readonly double _scale = config.Scale;

    public override void Update(ReadOnlySpan<byte> sample)
    {
        double v = Field!.ReadDouble(sample) * _scale;
        if (Labels.Find(sample) is LabelSeries s)
        {
            s.Buckets![Layout.IndexOf(v)]++;
            s.Sum += v;
        }
    }

    public IReadOnlyList<string> LabelNames => Labels.Names;

    public IReadOnlyList<double> Bounds => Layout.Bounds;

    /// <summary>Reads each series while the worker may be adding to it: the count is the buckets' sum, so the two agree.</summary>
    public void Collect(HistogramPoint point, Action<HistogramPoint> write)
    {
        foreach (LabelSeries s in Labels.Series())
        {
            long[] buckets = s.Buckets!;
            for (int i = 0; i < buckets.Length; i++)
            {
                point.Counts[i] = Volatile.Read(ref buckets[i]);
            }

            point.LabelValues = s.Values;
            point.Sum = Volatile.Read(ref s.Sum);
            point.Created = s.Created;
            write(point);
        }
    }

    protected override bool SameLayout(MetricUpdater previous) => previous is HistogramUpdater h && h.Layout.Equals(Layout);
}
