using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Exposition;
using BpfAgent.Metrics.Histograms;

namespace BpfAgent.Metrics;

/// <summary>
/// A histogram aggregated by the agent: per series a count per bucket and the exact sum (the count is the sum of
/// the buckets). One bucket index and two plain adds per sample, a chunk of samples at a time.
/// </summary>
public sealed class HistogramUpdater(MetricConfig config, LabelSet labels, EventField field, BucketLayout layout) : MetricUpdater(config, labels, field), IHistogramFamily
{
    public BucketLayout Layout { get; } = layout;

    private readonly double _scale = config.Scale;
    // A chunk's series and values between the two passes of Update(SampleChunk, int).
    private readonly LabelSeries?[] _seriesOf = new LabelSeries?[SampleChunk.Capacity];
    private readonly double[] _valueOf = new double[SampleChunk.Capacity];

    public override void Update(ReadOnlySpan<byte> sample)
    {
        double v = Field!.ReadDouble(sample) * _scale;
        if (Labels.Find(sample) is LabelSeries s)
        {
            s.Buckets![Layout.IndexOf(v)]++;
            s.Sum += v;
        }
    }

    public override void Update(SampleChunk chunk, int from)
    {
        if (Labels.Count == 0 && Layout.IsExp2)
        {
            UpdateOneSeries(chunk, from);
            return;
        }

        // Two passes, as UpdateOneSeries: each sample's series, bucket and value first, then the counts and sums.
        EventField field = Field!;
        double scale = _scale;
        BucketLayout layout = Layout;
        LabelSet labels = Labels;
        LabelSeries?[] seriesOf = _seriesOf;
        Span<int> bucketOf = stackalloc int[SampleChunk.Capacity];
        double[] valueOf = _valueOf;
        int n = chunk.Count;
        int done = from;
        try
        {
            for (; done < n; done++)
            {
                chunk.At = done;
                ReadOnlySpan<byte> sample = chunk[done];
                double v = field.ReadDouble(sample) * scale;
                seriesOf[done] = labels.Find(sample); // null: a decoder dropped the label set (counted by the label set)
                bucketOf[done] = layout.IndexOf(v);
                valueOf[done] = v;
            }
        }
        finally
        {
            for (int i = from; i < done; i++)
            {
                if (seriesOf[i] is LabelSeries s)
                {
                    s.Buckets![bucketOf[i]]++;
                    s.Sum += valueOf[i];
                    seriesOf[i] = null;
                }
            }
        }
    }

    // No labels and exp2 buckets (the commonest histogram): one series for the whole chunk, the index's inputs in
    // registers, the sum added up in a local. Two passes: the bucket of every sample first, then the counts. In one
    // pass each count's address is known only once its sample's value went through the index, and the core, which
    // runs the next samples' loads of counts ahead of earlier samples' stores, has to start over each time two
    // neighbours share a bucket (common: latencies cluster): 12.9 ns a sample against 8-9 for either half alone.
    private void UpdateOneSeries(SampleChunk chunk, int from)
    {
        if (Labels.Find(chunk[from]) is not LabelSeries s)
        {
            return;
        }

        EventField field = Field!;
        double scale = _scale;
        BucketLayout.Exp2Index index = Layout.Exp2;
        long[] buckets = s.Buckets!;
        Span<int> bucketOf = stackalloc int[SampleChunk.Capacity];
        double sum = 0;
        int n = chunk.Count;
        int done = from;
        try
        {
            for (; done < n; done++)
            {
                chunk.At = done;
                double v = field.ReadDouble(chunk[done]) * scale;
                bucketOf[done] = index.Of(v);
                sum += v;
            }
        }
        finally
        {
            // Also when a sample threw: what was read before it is counted, and it is not.
            for (int i = from; i < done; i++)
            {
                buckets[bucketOf[i]]++;
            }

            s.Sum += sum;
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
