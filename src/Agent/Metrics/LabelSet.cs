using System.Diagnostics;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

// A metric's series: LabelSet finds a sample's series by its label values, LabelSeries is one series' counts.

/// <summary>
/// The labels of one metric: finds a sample's series (<see cref="LabelSeries"/>: its tags built once, no allocation
/// per sample: label values are the decoders' cached strings) and enforces the metric's series limit, sending new
/// label sets past it to one overflow series (every label "overflow") and counting those samples. The series are
/// also published in an append-only array that a scrape can read while the worker adds to it.
/// </summary>
public sealed class LabelSet
{
    public const string OverflowValue = "overflow";

    private readonly string[] _names;
    private readonly FieldValueDecoder[] _decoders;
    // Label values are the decoders' cached string instances, so a label set is identified by reference:
    // no string is hashed or compared per sample.
    private readonly Dictionary<SeriesKey, LabelSeries> _series = new(SeriesKeyComparer.Instance);
    private readonly int _maxSeries;
    private readonly int _histogramBuckets;
    private SeriesKey _last;
    private LabelSeries? _lastSeries;
    private volatile LabelSeries? _overflow;
    private long _overflowSamples;
    // Series taken over from the previous version of the metric, by label values, until a sample claims them.
    private Dictionary<string, LabelSeries>? _continued;
    // Every series but the overflow one, for scrapes: the array is replaced before it is full, _published last.
    private volatile LabelSeries[] _all = new LabelSeries[4];
    private volatile int _published;
    private long _filteredSamples;

    public LabelSet(IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels, int maxSeries, int histogramBuckets = 0)
    {
        if (labels.Count > 4)
        {
            throw new ArgumentException("At most 4 labels.", nameof(labels));
        }

        _names = labels.Select(l => l.Name).ToArray();
        _decoders = labels.Select(l => l.Decoder).ToArray();
        _maxSeries = maxSeries;
        _histogramBuckets = histogramBuckets;
    }

    public int Count => _names.Length;

    public IReadOnlyList<string> Names => _names;

    /// <summary>Label sets seen (not counting the overflow series).</summary>
    public int SeriesCount => _published;

    /// <summary>Samples that went to the overflow series because the limit was reached.</summary>
    public long OverflowSamples => Interlocked.Read(ref _overflowSamples);

    /// <summary>Samples whose label set a decoder dropped (a regexp that did not match).</summary>
    public long FilteredSamples => Interlocked.Read(ref _filteredSamples);

    /// <summary>
    /// Every series, the overflow one last once it exists; safe while the worker adds series (a series added
    /// meanwhile may or may not be in it).
    /// </summary>
    public IEnumerable<LabelSeries> Series()
    {
        int n = _published;
        LabelSeries[] all = _all;
        for (int i = 0; i < n; i++)
        {
            yield return all[i];
        }

        if (_overflow is LabelSeries o)
        {
            yield return o;
        }
    }


    /// <summary>The tags of the sample's series (none when its label set is dropped).</summary>
    public TagList Tags(ReadOnlySpan<byte> sample) => Find(sample)?.Tags ?? default;

    /// <summary>
    /// The sample's series: the same instance for the same label values, the overflow series past the limit, or
    /// null when a decoder dropped the label set (counted in <see cref="FilteredSamples"/>).
    /// </summary>
    public LabelSeries? Find(ReadOnlySpan<byte> sample)
    {
        // Small enough to inline: no labels, or one label whose value is the previous sample's (bursts), is the common case.
        LabelSeries? last = _lastSeries;
        if (_names.Length == 0 && last is not null)
        {
            return last;
        }

        if (_names.Length == 1 && last is not null)
        {
            string? value = _decoders[0].Label(sample);
            if (ReferenceEquals(value, _last.A))
            {
                return last;
            }

            return value is null ? Filtered() : FindSlow(value, sample);
        }

        return FindSlow(null, sample);
    }

    // The rest of Find: the first label's value when it is known already (one label), the others decoded here.
    private LabelSeries? FindSlow(string? first, ReadOnlySpan<byte> sample)
    {
        if (_names.Length == 0)
        {
            return _lastSeries ??= Add(default, []);
        }

        string? a = first ?? _decoders[0].Label(sample);
        string? b = _names.Length > 1 ? _decoders[1].Label(sample) : null;
        string? c = _names.Length > 2 ? _decoders[2].Label(sample) : null;
        string? d = _names.Length > 3 ? _decoders[3].Label(sample) : null;
        if (a is null || (b is null && _names.Length > 1) || (c is null && _names.Length > 2) || (d is null && _names.Length > 3))
        {
            return Filtered();
        }

        var key = new SeriesKey(a, b, c, d);
        if (_lastSeries is not null && SeriesKeyComparer.Instance.Equals(key, _last))
        {
            return _lastSeries; // the same label set as the previous sample (the common case in bursts)
        }

        if (!_series.TryGetValue(key, out LabelSeries? series))
        {
            series = NewSeries(key);
            if (series is null)
            {
                Interlocked.Increment(ref _overflowSamples);
                return _overflow ??= new LabelSeries(Fill(OverflowValue, OverflowValue, OverflowValue, OverflowValue), Build(OverflowValue, OverflowValue, OverflowValue, OverflowValue), _histogramBuckets);
            }
        }

        _last = key;
        _lastSeries = series;
        return series;
    }

    private LabelSeries? Filtered()
    {
        Interlocked.Increment(ref _filteredSamples);
        return null;
    }

    // The slow path of Find: a label set not seen by reference. It may be one the previous version had.
    private LabelSeries? NewSeries(SeriesKey key)
    {
        string?[]? values = null;
        if (_continued is { Count: > 0 })
        {
            values = Fill(key.A, key.B, key.C, key.D);
            if (_continued.Remove(LabelSeries.KeyOf(values), out LabelSeries? carried))
            {
                _series.Add(key, carried);
                return carried;
            }
        }

        if (_published >= _maxSeries)
        {
            return null; // allocation-free: past the limit every sample of a new label set comes here
        }

        LabelSeries series = Add(key, values ?? Fill(key.A, key.B, key.C, key.D));
        _series.Add(key, series);
        return series;
    }

    private LabelSeries Add(SeriesKey key, string?[] values)
    {
        var series = new LabelSeries(values, _names.Length == 0 ? default : Build(key.A, key.B, key.C, key.D), _histogramBuckets);
        Publish(series);
        return series;
    }

    private void Publish(LabelSeries series)
    {
        LabelSeries[] all = _all;
        int n = _published;
        if (n == all.Length)
        {
            var grown = new LabelSeries[n * 2];
            Array.Copy(all, grown, n);
            _all = all = grown;
        }

        all[n] = series;
        _published = n + 1;
    }

    /// <summary>
    /// Takes over the series of <paramref name="previous"/> (the same metric in the version of the set being
    /// replaced) when it has the same label names: their counts continue here. Called before this set sees a
    /// sample, while no worker runs. Returns how many series continued.
    /// </summary>
    public int ContinueFrom(LabelSet previous)
    {
        if (!previous._names.AsSpan().SequenceEqual(_names) || previous._histogramBuckets != _histogramBuckets)
        {
            return 0;
        }

        int n = 0;
        foreach (LabelSeries old in previous.Series())
        {
            var series = new LabelSeries([.. old.Values], old.TagList, _histogramBuckets);
            series.Continue(old);
            if (ReferenceEquals(old, previous._overflow))
            {
                _overflow = series;
            }
            else
            {
                _continued ??= new Dictionary<string, LabelSeries>(StringComparer.Ordinal);
                _continued[series.ValueKey()] = series;
                if (_names.Length == 0)
                {
                    _lastSeries = series;
                }

                Publish(series);
            }

            n++;
        }

        Interlocked.Add(ref _overflowSamples, previous.OverflowSamples);
        return n;
    }

    private string?[] Fill(string? a, string? b, string? c, string? d) => _names.Length switch
    {
        0 => [],
        1 => [a],
        2 => [a, b],
        3 => [a, b, c],
        _ => [a, b, c, d],
    };

    private TagList Build(string? a, string? b, string? c, string? d)
    {
        var tags = default(TagList);
        tags.Add(_names[0], a);
        if (_names.Length > 1)
        {
            tags.Add(_names[1], b);
        }

        if (_names.Length > 2)
        {
            tags.Add(_names[2], c);
        }

        if (_names.Length > 3)
        {
            tags.Add(_names[3], d);
        }

        return tags;
    }

    private readonly record struct SeriesKey(string? A, string? B, string? C, string? D);

    private sealed class SeriesKeyComparer : IEqualityComparer<SeriesKey>
    {
        public static readonly SeriesKeyComparer Instance = new();

        public bool Equals(SeriesKey x, SeriesKey y) =>
            ReferenceEquals(x.A, y.A) && ReferenceEquals(x.B, y.B) && ReferenceEquals(x.C, y.C) && ReferenceEquals(x.D, y.D);

        public int GetHashCode(SeriesKey k) => HashCode.Combine(
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.A), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.B),
            System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.C), System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.D));
    }
}

/// <summary>
/// One series of one metric: its label values and what the metric has accumulated for it. Written by the one
/// worker thread with plain stores (no lock, no interlocked per sample); read at scrape from another thread,
/// where an aligned 64-bit load never tears.
/// </summary>
public sealed class LabelSeries
{
    internal readonly TagList TagList; // a field, so instruments take it by reference

    internal LabelSeries(string?[] values, TagList tags, int histogramBuckets)
    {
        Values = values;
        TagList = tags;
        Buckets = histogramBuckets > 0 ? new long[histogramBuckets] : null;
        Created = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
    }

    /// <summary>When the series was first seen (Unix seconds): OpenMetrics' <c>_created</c>.</summary>
    public double Created { get; private set; }

    /// <summary>The label values, in the order of the label set's names.</summary>
    public IReadOnlyList<string?> Values { get; }

    public TagList Tags => TagList;

    /// <summary>A sample counter's count.</summary>
    internal long Count;

    /// <summary>A field counter's sum, a histogram's sum of observed values.</summary>
    internal double Sum;

    /// <summary>A gauge's last value (valid once <see cref="HasValue"/>).</summary>
    internal double LastValue;

    internal bool HasValue;

    /// <summary>A histogram's count per bucket (not cumulative); the last one is +Inf.</summary>
    internal readonly long[]? Buckets;

    /// <summary>Takes over what a series with the same labels of the previous version of the metric held.</summary>
    internal void Continue(LabelSeries previous)
    {
        Count = previous.Count;
        Sum = previous.Sum;
        LastValue = previous.LastValue;
        HasValue = previous.HasValue;
        Created = previous.Created;
        if (Buckets is not null && previous.Buckets is not null && Buckets.Length == previous.Buckets.Length)
        {
            previous.Buckets.CopyTo(Buckets, 0);
        }
    }

    /// <summary>Label values as one string (for matching series across versions; not on the per-sample path).</summary>
    internal string ValueKey() => KeyOf(Values);

    /// <summary>One string for a list of label values, equal exactly when the values are (null kept apart from "").</summary>
    internal static string KeyOf(IReadOnlyList<string?> values) => string.Join('\u0001', values.Select(v => v ?? "\u0000"));
}
