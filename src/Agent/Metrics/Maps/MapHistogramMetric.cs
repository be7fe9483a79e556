using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Exposition;

namespace BpfAgent.Metrics.Maps;

/// <summary>
/// A histogram the program keeps in a map: one key field is the bucket index, the value the bucket's count; the sum
/// comes from the index after the last bucket (ebpf_exporter's convention) or from a value-struct field. Missing
/// buckets are zero; the exposition makes them cumulative.
/// </summary>
public sealed class MapHistogramMetric(MapSource source, MapMetricConfig config, IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels,
    EventField count, EventField? sumField, int cpus, int maxEntries, EventField bucketField, MapBuckets buckets)
    : MapMetric(config, labels, count, cpus, maxEntries, bucketField, buckets), IHistogramFamily
{
    public IReadOnlyList<double> Bounds => Buckets!.Bounds;

    public IReadOnlyList<string>? BoundTexts => Buckets!.BoundTexts;

    protected override void Add(MapSeries series, int slot, ReadOnlySpan<byte> value)
    {
        double n = ReadValue(value);
        if (slot >= 0)
        {
            series.Counts![slot] += (long)n;
            if (sumField is not null)
            {
                series.Sum += sumField.ReadDouble(value) * Config.SumScale;
            }
        }
        else if (slot == MapBuckets.SumSlot && sumField is null)
        {
            series.Sum += n * Buckets!.Multiplier;
        }
    }

    public void Collect(HistogramPoint point, Action<HistogramPoint> write) => source.Read(() =>
    {
        foreach (MapSeries s in Live())
        {
            s.Counts!.CopyTo(point.Counts, 0);
            point.LabelValues = s.Values;
            point.Sum = s.Sum;
            point.Created = double.NaN;
            write(point);
        }
    });
}
