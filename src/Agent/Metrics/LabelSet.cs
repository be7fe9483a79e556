using System.Diagnostics;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics;

/// <summary>
/// The labels of one metric: finds a sample's series (<see cref="LabelSeries"/>: its tags built once, no allocation
/// per sample: label values are the decoders' cached strings) and enforces the metric's series limit, sending new
/// label sets past it to one overflow series (every label "overflow") and counting those samples.
/// </summary>
public sealed class LabelSet
{
    public const string OverflowValue = "overflow";

    private readonly string[] _names;
    private readonly FieldValueDecoder[] _decoders;
    // Label values are the decoders' cached string instances, so a label set is identified by reference:
    // no string is hashed or compared per sample.
    private readonly Dictionary<SeriesKey, LabelSeries> _series = new(SeriesKeyComparer.Instance);
    private SeriesKey _last;
    private LabelSeries? _lastSeries;
    private LabelSeries? _overflow;
    private readonly int _maxSeries;
    private long _overflowSamples;
    private long _filteredSamples;

    public LabelSet(IReadOnlyList<(string Name, FieldValueDecoder Decoder)> labels, int maxSeries)
    {
        if (labels.Count > 4)
        {
            throw new ArgumentException("At most 4 labels.", nameof(labels));
        }

        _names = labels.Select(l => l.Name).ToArray();
        _decoders = labels.Select(l => l.Decoder).ToArray();
        _maxSeries = maxSeries;
    }

    public int Count => _names.Length;

    /// <summary>Label sets seen (not counting the overflow series).</summary>
    public int SeriesCount => _series.Count;

    /// <summary>Samples that went to the overflow series because the limit was reached.</summary>
    public long OverflowSamples => Interlocked.Read(ref _overflowSamples);

    /// <summary>Samples whose label set a decoder dropped (a regexp that did not match).</summary>
    public long FilteredSamples => Interlocked.Read(ref _filteredSamples);

    /// <summary>The tags of the sample's series (none when its label set is dropped).</summary>
    public TagList Tags(ReadOnlySpan<byte> sample) => Find(sample)?.Tags ?? default;

    /// <summary>
    /// The sample's series: the same instance for the same label values, the overflow series past the limit, or
    /// null when a decoder dropped the label set (counted in <see cref="FilteredSamples"/>).
    /// </summary>
    public LabelSeries? Find(ReadOnlySpan<byte> sample)
    {
        if (_names.Length == 0)
        {
            return _lastSeries ??= new LabelSeries(default);
        }

        string? a = _decoders[0].Label(sample);
        string? b = _names.Length > 1 ? _decoders[1].Label(sample) : null;
        string? c = _names.Length > 2 ? _decoders[2].Label(sample) : null;
        string? d = _names.Length > 3 ? _decoders[3].Label(sample) : null;
        if (a is null || (b is null && _names.Length > 1) || (c is null && _names.Length > 2) || (d is null && _names.Length > 3))
        {
            Interlocked.Increment(ref _filteredSamples);
            return null;
        }

        var key = new SeriesKey(a, b, c, d);
        if (_lastSeries is not null && SeriesKeyComparer.Instance.Equals(key, _last))
        {
            return _lastSeries; // the same label set as the previous sample (the common case in bursts)
        }

        if (!_series.TryGetValue(key, out LabelSeries? series))
        {
            if (_series.Count >= _maxSeries)
            {
                Interlocked.Increment(ref _overflowSamples);
                return _overflow ??= new LabelSeries(Build(OverflowValue, OverflowValue, OverflowValue, OverflowValue));
            }

            series = new LabelSeries(Build(a, b, c, d));
            _series.Add(key, series);
        }

        _last = key;
        _lastSeries = series;
        return series;
    }

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
/// One series of one metric: its tags, and what the metric has accumulated for it since the worker last flushed
/// (the worker hands the instruments one sum per series per batch, not one call per sample).
/// </summary>
public sealed class LabelSeries(TagList tags)
{
    internal readonly TagList TagList = tags; // a field, so instruments take it by reference

    public TagList Tags => TagList;

    internal long PendingCount;
    internal double PendingSum;
    internal double LastValue;
    internal bool Dirty;
}
