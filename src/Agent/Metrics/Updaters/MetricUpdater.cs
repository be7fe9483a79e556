using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Histograms;

namespace BpfAgent.Metrics;

/// <summary>
/// One configured metric of a ring: reads its value and labels from a sample and adds it to the sample's series
/// (<see cref="LabelSeries"/>). Nothing here calls OpenTelemetry: counters and gauges are observed from the series
/// at scrape (<see cref="SetInstruments"/>), histograms are written by the agent's exposition
/// (<see cref="Exposition.HistogramFamilyWriter"/>). Used by the one worker thread.
/// </summary>
public abstract class MetricUpdater
{
    protected MetricUpdater(MetricConfig config, LabelSet labels, EventField? field)
    {
        Config = config;
        Labels = labels;
        Field = field;
    }

    public MetricConfig Config { get; }

    public string Name => Config.Name;

    public string Help => Config.Help;

    public LabelSet Labels { get; }

    protected EventField? Field { get; }

    public abstract void Update(ReadOnlySpan<byte> sample);

    /// <summary>
    /// Updates with the samples of <paramref name="chunk"/> from <paramref name="from"/> on, in order, setting
    /// <see cref="SampleChunk.At"/> to each sample before its update (a sample that throws ends the call there; the
    /// caller goes on after it). The kinds on the hot path override this with a loop that keeps their state in locals.
    /// </summary>
    public virtual void Update(SampleChunk chunk, int from)
    {
        for (int i = from; i < chunk.Count; i++)
        {
            chunk.At = i;
            Update(chunk[i]);
        }
    }

    protected double Value(ReadOnlySpan<byte> sample) => Field!.ReadDouble(sample) * Config.Scale;

    /// <summary>
    /// Continues the series of the same metric in the version of the set being replaced, when kind, label names and
    /// (for histograms) buckets are unchanged. Returns the series that continued; 0 means this metric restarts.
    /// </summary>
    public int ContinueFrom(MetricUpdater previous) =>
        previous.Config.Kind == Config.Kind && (previous.Field is null) == (Field is null) && SameLayout(previous)
            ? Labels.ContinueFrom(previous.Labels)
            : 0;

    protected virtual bool SameLayout(MetricUpdater previous) => true;

    /// <summary>The updater for <paramref name="config"/>; <paramref name="field"/> is null for a counter of samples.</summary>
    public static MetricUpdater Create(MetricConfig config, IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels, EventField? field)
    {
        if (config.Kind == MetricKind.Histogram)
        {
            var layout = new BucketLayout(config.Buckets ?? BucketLayout.DefaultBounds);
            return new HistogramUpdater(config, new LabelSet(labels, config.MaxSeries, layout.BucketCount), field!, layout);
        }

        var set = new LabelSet(labels, config.MaxSeries);
        return config.Kind switch
        {
            MetricKind.Counter when field is null => new SampleCounterUpdater(config, set),
            MetricKind.Counter => new FieldCounterUpdater(config, set, field),
            _ => new GaugeUpdater(config, set, field!),
        };
    }
}
