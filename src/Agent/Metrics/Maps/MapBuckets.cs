using BpfAgent.Configuration;
using BpfAgent.Metrics.Exposition;

namespace BpfAgent.Metrics.Maps;

/// <summary>
/// A map histogram's buckets as ebpf_exporter lays them out: the key's bucket index i, from min to max (or each of
/// the fixed keys), is the slot i - min with the upper bound of the bucket kind; the index after the last holds the
/// sum (when the config keeps the sum there). The program puts values above the top bucket into it, so the top
/// bound's cumulative count is the total and +Inf repeats it.
/// </summary>
public sealed class MapBuckets
{
    /// <summary>An index that is neither a bucket nor the sum: ignored, as ebpf_exporter ignores it.</summary>
    public const int Ignored = -1;

    /// <summary>The index after the last bucket: ebpf_exporter's sum.</summary>
    public const int SumSlot = -2;

    private readonly MapBucketsConfig _config;
    private readonly Dictionary<long, int>? _fixed;
    private string[]? _goTexts;

    public MapBuckets(MapBucketsConfig config)
    {
        _config = config;
        double m = config.Multiplier;
        if (config.Kind == BucketKind.Fixed)
        {
            IReadOnlyList<double> keys = config.Keys ?? [];
            Bounds = [.. keys.Select(k => k * m)];
            _fixed = keys.Select((k, i) => ((long)k, i)).ToDictionary(p => p.Item1, p => p.i);
            SumIndex = keys.Count == 0 ? long.MinValue : (long)keys[^1] + 1;
        }
        else
        {
            Bounds = [.. Enumerable.Range(config.Min, config.Max - config.Min + 1).Select(i => config.Kind switch
            {
                BucketKind.Exp2 => Math.Pow(2, i) * m,
                BucketKind.Exp2Zero => i == 0 ? 0 : Math.Pow(2, i - 1) * m,
                _ => i * m,
            })];
            SumIndex = config.Max + 1L;
        }
    }

    /// <summary>Upper bounds, ascending (without +Inf).</summary>
    public double[] Bounds { get; }

    /// <summary>The le texts when the config asks for Go's float format (ebpf_exporter's); null: plain decimal.</summary>
    public IReadOnlyList<string>? BoundTexts => _config.LeFormat == LeFormat.Go ? _goTexts ??= [.. Bounds.Select(GoFloat.Format)] : null;

    /// <summary>Slots including +Inf.</summary>
    public int SlotCount => Bounds.Length + 1;

    public long SumIndex { get; }

    public double Multiplier => _config.Multiplier;

    /// <summary>The slot of bucket index <paramref name="index"/>, <see cref="SumSlot"/> or <see cref="Ignored"/>.</summary>
    public int SlotOf(long index)
    {
        if (index == SumIndex)
        {
            return SumSlot;
        }

        if (_fixed is not null)
        {
            return _fixed.TryGetValue(index, out int slot) ? slot : Ignored;
        }

        return index >= _config.Min && index <= _config.Max ? (int)(index - _config.Min) : Ignored;
    }
}
