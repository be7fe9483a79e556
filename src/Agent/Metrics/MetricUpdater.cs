using System.Diagnostics;
using System.Diagnostics.Metrics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>
/// One configured metric of a ring: reads its value and labels from a sample and updates the instrument. Counters
/// and gauges accumulate per series and reach their instrument once per series in <see cref="Flush"/>, which the
/// worker calls after each batch: one OpenTelemetry call with tags costs ~100 ns, a batch holds up to ~1,300
/// samples, and a sum (or a gauge's last value) per batch is exactly what the per-sample calls would have added
/// up to. Histograms need every value and record each sample.
/// </summary>
public abstract class MetricUpdater
{
    private readonly List<LabelSeries> _dirty = [];

    protected MetricUpdater(MetricConfig config, LabelSet labels, EventField? field)
    {
        Config = config;
        Labels = labels;
        Field = field;
    }

    public MetricConfig Config { get; }

    public LabelSet Labels { get; }

    protected EventField? Field { get; }

    public abstract void Update(ReadOnlySpan<byte> sample);

    /// <summary>Hands what <see cref="Update"/> accumulated since the last flush to the instrument.</summary>
    public void Flush()
    {
        foreach (LabelSeries s in _dirty)
        {
            s.Dirty = false;
            Publish(s);
        }

        _dirty.Clear();
    }

    /// <summary>Publishes one series' accumulated value and resets it.</summary>
    protected virtual void Publish(LabelSeries series)
    {
    }

    protected void MarkDirty(LabelSeries series)
    {
        if (!series.Dirty)
        {
            series.Dirty = true;
            _dirty.Add(series);
        }
    }

    protected double Value(ReadOnlySpan<byte> sample) => Field!.ReadDouble(sample) * Config.Scale;

    /// <summary>Creates the instrument on <paramref name="meter"/> and its updater.</summary>
    public static MetricUpdater Create(Meter meter, MetricConfig config, LabelSet labels, EventField? field) => config.Kind switch
    {
        MetricKind.Counter when field is null => new SampleCounter(meter, config, labels),
        MetricKind.Counter => new FieldCounter(meter, config, labels, field),
        MetricKind.Histogram => new FieldHistogram(meter, config, labels, field!),
        _ => new FieldGauge(meter, config, labels, field!),
    };

    private static string? Help(MetricConfig c) => c.Help.Length == 0 ? null : c.Help;

    private sealed class SampleCounter(Meter meter, MetricConfig config, LabelSet labels) : MetricUpdater(config, labels, null)
    {
        private readonly Counter<long> _counter = meter.CreateCounter<long>(config.Name, null, Help(config));

        public override void Update(ReadOnlySpan<byte> sample)
        {
            if (Labels.Find(sample) is not LabelSeries s)
            {
                return; // label set dropped by a decoder
            }

            s.PendingCount++;
            MarkDirty(s);
        }

        protected override void Publish(LabelSeries series)
        {
            _counter.Add(series.PendingCount, in series.TagList);
            series.PendingCount = 0;
        }
    }

    private sealed class FieldCounter(Meter meter, MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
    {
        private readonly Counter<double> _counter = meter.CreateCounter<double>(config.Name, null, Help(config));

        public override void Update(ReadOnlySpan<byte> sample)
        {
            double v = Value(sample);
            if (v < 0)
            {
                return; // a counter never goes down; a negative field value is not countable
            }

            if (Labels.Find(sample) is not LabelSeries s)
            {
                return;
            }

            s.PendingSum += v;
            MarkDirty(s);
        }

        protected override void Publish(LabelSeries series)
        {
            _counter.Add(series.PendingSum, in series.TagList);
            series.PendingSum = 0;
        }
    }

    private sealed class FieldHistogram(Meter meter, MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
    {
        private readonly Histogram<double> _histogram = meter.CreateHistogram(config.Name, null, Help(config), tags: null,
            advice: config.Buckets is null ? null : new InstrumentAdvice<double> { HistogramBucketBoundaries = config.Buckets });

        public override void Update(ReadOnlySpan<byte> sample)
        {
            double v = Value(sample);
            if (Labels.Find(sample) is LabelSeries s)
            {
                _histogram.Record(v, in s.TagList);
            }
        }
    }

    private sealed class FieldGauge(Meter meter, MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
    {
        private readonly Gauge<double> _gauge = meter.CreateGauge<double>(config.Name, null, Help(config));

        public override void Update(ReadOnlySpan<byte> sample)
        {
            double v = Value(sample);
            if (Labels.Find(sample) is not LabelSeries s)
            {
                return;
            }

            s.LastValue = v;
            MarkDirty(s);
        }

        protected override void Publish(LabelSeries series) => _gauge.Record(series.LastValue, in series.TagList);
    }
}
