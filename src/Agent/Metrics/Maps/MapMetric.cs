using System.Diagnostics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics.Maps;

/// <summary>
/// One metric read from a map: each entry's key decodes (once per distinct key bytes, then cached) to a series and,
/// for a histogram, a bucket slot; its value (summed over CPUs, or one series per CPU with a CPU label) adds to that
/// series. Series are rebuilt on every read, so a key that leaves the map leaves /metrics. Past maxSeries new label
/// sets go to one overflow series (every label "overflow"), and the entries that did are counted. Used under its
/// <see cref="MapSource"/>'s lock.
/// </summary>
public abstract class MapMetric
{
    private readonly string[] _names;
    private readonly FieldValueDecoder[] _decoders;
    private readonly EventField _value;
    private readonly EventField? _bucketField;
    private readonly bool _perCpuSeries;
    private readonly int _cpus;
    private readonly int _keyCacheLimit;
    private readonly Dictionary<byte[], KeyEntry> _keys = new(RawKeyComparer.Instance);
    private readonly Dictionary<string, MapSeries> _series = new(StringComparer.Ordinal);
    private readonly List<MapSeries> _removed = [];
    private MapSeries? _overflow;
    private long _read;
    private long _overflowEntries;
    private long _filteredEntries;

    protected MapMetric(MapMetricConfig config, IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels, EventField value,
        int cpus, int maxEntries, EventField? bucketField, MapBuckets? buckets)
    {
        Config = config;
        _perCpuSeries = config.CpuLabel is not null && cpus > 1;
        _names = [.. labels.Select(l => l.Name), .. config.CpuLabel is string cpu ? new[] { cpu } : []];
        _decoders = [.. labels.Select(l => l.Decoder)];
        _value = value;
        _cpus = cpus;
        _bucketField = bucketField;
        Buckets = buckets;
        _keyCacheLimit = Math.Max(4096, maxEntries * 2);
    }

    public MapMetricConfig Config { get; }

    public string Name => Config.Name;

    public string Help => Config.Help;

    public IReadOnlyList<string> LabelNames => _names;

    protected MapBuckets? Buckets { get; }

    /// <summary>Entries that went to the overflow series in the last read.</summary>
    public long OverflowEntries => Interlocked.Read(ref _overflowEntries);

    /// <summary>Entries of the last read a decoder dropped (a regexp that matched nothing): left out, as ebpf_exporter leaves them.</summary>
    public long FilteredEntries => Interlocked.Read(ref _filteredEntries);

    internal void Begin(long read)
    {
        _read = read;
        Interlocked.Exchange(ref _overflowEntries, 0);
        Interlocked.Exchange(ref _filteredEntries, 0);
    }

    /// <summary>Adds entry <paramref name="index"/> of the reader's current chunk.</summary>
    internal void Add(ReadOnlySpan<byte> key, BpfMapReader reader, int index)
    {
        Dictionary<byte[], KeyEntry>.AlternateLookup<ReadOnlySpan<byte>> lookup = _keys.GetAlternateLookup<ReadOnlySpan<byte>>();
        if (!lookup.TryGetValue(key, out KeyEntry? entry))
        {
            if (_keys.Count >= _keyCacheLimit)
            {
                _keys.Clear(); // keys churn (a pid, a socket): start the cache again rather than grow
            }

            entry = NewEntry(key);
            lookup[key] = entry;
        }

        if (entry.Slot == MapBuckets.Ignored)
        {
            if (entry.Filtered)
            {
                Interlocked.Increment(ref _filteredEntries);
            }

            return;
        }

        if (_perCpuSeries)
        {
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                Add(SeriesOf(entry, cpu), entry.Slot, reader.GetValue(index, cpu));
            }

            return;
        }

        MapSeries series = SeriesOf(entry, 0);
        for (int cpu = 0; cpu < _cpus; cpu++)
        {
            Add(series, entry.Slot, reader.GetValue(index, cpu));
        }
    }

    /// <summary>Ends a read: series no entry mapped to leave the table.</summary>
    internal void End()
    {
        foreach ((string key, MapSeries s) in _series)
        {
            if (s.Read != _read)
            {
                s.Removed = true;
                _removed.Add(s);
            }
        }

        foreach (MapSeries s in _removed)
        {
            _series.Remove(Key(s.Values));
        }

        _removed.Clear();
    }

    /// <summary>The series of the last read.</summary>
    protected IEnumerable<MapSeries> Live()
    {
        foreach (MapSeries s in _series.Values)
        {
            if (s.Read == _read)
            {
                yield return s;
            }
        }

        if (_overflow is { } o && o.Read == _read)
        {
            yield return o;
        }
    }

    /// <summary>Adds one CPU's value of an entry to its series (and slot).</summary>
    protected abstract void Add(MapSeries series, int slot, ReadOnlySpan<byte> value);

    protected double ReadValue(ReadOnlySpan<byte> value) => _value.ReadDouble(value);

    private MapSeries SeriesOf(KeyEntry entry, int cpu)
    {
        MapSeries? s = entry.Series[cpu];
        if (s is null || s.Removed)
        {
            entry.Series[cpu] = s = Resolve(entry.Values, cpu);
        }

        if (s.Read != _read)
        {
            s.Reset(_read);
        }

        if (ReferenceEquals(s, _overflow))
        {
            Interlocked.Increment(ref _overflowEntries);
        }

        return s;
    }

    private KeyEntry NewEntry(ReadOnlySpan<byte> key)
    {
        var values = new string?[_decoders.Length];
        bool filtered = false;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = _decoders[i].Label(key);
            filtered |= values[i] is null; // a decoder dropped the label set
        }

        if (filtered)
        {
            return new KeyEntry(values, MapBuckets.Ignored, [], filtered: true);
        }

        int slot = 0;
        if (_bucketField is not null && Buckets is not null)
        {
            slot = Buckets.SlotOf(_bucketField.ReadInt64(key));
        }

        return new KeyEntry(values, slot, new MapSeries?[_perCpuSeries ? _cpus : 1]);
    }

    private MapSeries Resolve(string?[] values, int cpu)
    {
        string?[] all = _perCpuSeries ? [.. values, cpu.ToString(System.Globalization.CultureInfo.InvariantCulture)] : values;
        string key = Key(all);
        if (_series.TryGetValue(key, out MapSeries? s))
        {
            return s;
        }

        if (_series.Count >= Config.MaxSeries)
        {
            return _overflow ??= NewSeries([.. Enumerable.Repeat<string?>(LabelSet.OverflowValue, _names.Length)]);
        }

        s = NewSeries(all);
        _series[key] = s;
        return s;
    }

    private MapSeries NewSeries(string?[] values)
    {
        var tags = default(TagList);
        for (int i = 0; i < _names.Length; i++)
        {
            tags.Add(_names[i], values[i]);
        }

        return new MapSeries(values, tags, Buckets?.SlotCount ?? 0) { Read = -1 };
    }

    private static string Key(IReadOnlyList<string?> values) => LabelSeries.KeyOf(values);

    private sealed class KeyEntry(string?[] values, int slot, MapSeries?[] series, bool filtered = false)
    {
        public bool Filtered { get; } = filtered;

        public string?[] Values { get; } = values;

        public int Slot { get; } = slot;

        public MapSeries?[] Series { get; } = series;
    }
}
