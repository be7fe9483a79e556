using System.Diagnostics.Metrics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics.Maps;

/// <summary>A counter or gauge per key (labels from key fields): the value, scaled, summed over CPUs and over keys with the same labels.</summary>
public sealed class MapValueMetric(MapSource source, MapMetricConfig config, IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels,
    EventField value, int cpus, int maxEntries) : MapMetric(config, labels, value, cpus, maxEntries, null, null), IObservedMetric
{
    public ObservedKind Kind => Config.Kind == MetricKind.Counter ? ObservedKind.Sum : ObservedKind.Gauge;

    protected override void Add(MapSeries series, int slot, ReadOnlySpan<byte> value) => series.Value += ReadValue(value) * Config.Scale;

    public IEnumerable<Measurement<double>> ObserveValues()
    {
        var list = new List<Measurement<double>>();
        source.Read(() =>
        {
            foreach (MapSeries s in Live())
            {
                list.Add(new Measurement<double>(s.Value, in s.Tags));
            }
        });
        return list;
    }
}
