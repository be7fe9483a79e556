using System.Diagnostics;
using System.Diagnostics.Metrics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>One configured metric of a ring: reads its value and labels from a sample and updates the instrument.</summary>
public abstract class MetricUpdater
{
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
            TagList tags = Labels.Tags(sample);
            _counter.Add(1, in tags);
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

            TagList tags = Labels.Tags(sample);
            _counter.Add(v, in tags);
        }
    }

    private sealed class FieldHistogram(Meter meter, MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
    {
        private readonly Histogram<double> _histogram = meter.CreateHistogram(config.Name, null, Help(config), tags: null,
            advice: config.Buckets is null ? null : new InstrumentAdvice<double> { HistogramBucketBoundaries = config.Buckets });

        public override void Update(ReadOnlySpan<byte> sample)
        {
            double v = Value(sample);
            TagList tags = Labels.Tags(sample);
            _histogram.Record(v, in tags);
        }
    }

    private sealed class FieldGauge(Meter meter, MetricConfig config, LabelSet labels, EventField field) : MetricUpdater(config, labels, field)
    {
        private readonly Gauge<double> _gauge = meter.CreateGauge<double>(config.Name, null, Help(config));

        public override void Update(ReadOnlySpan<byte> sample)
        {
            double v = Value(sample);
            TagList tags = Labels.Tags(sample);
            _gauge.Record(v, in tags);
        }
    }
}
