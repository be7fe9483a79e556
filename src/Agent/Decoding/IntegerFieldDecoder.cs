namespace BpfAgent.Decoding;

/// <summary>An integer or enum field (up to 8 bytes, bitfields too): the chain's result cached by the field's value.</summary>
internal sealed class IntegerFieldDecoder(EventField field, LabelDecoder[] chain) : FieldValueDecoder(field, chain)
{
    private readonly Dictionary<long, string?> _cache = [];
    private readonly int _width = field.BitSize != 0 ? field.BitSize : field.Size * 8;
    private long _lastValue;
    private string? _lastLabel;
    private bool _hasLast;

    public override string? Label(ReadOnlySpan<byte> sample)
    {
        long v = Field.ReadInt64(sample);
        if (_hasLast && v == _lastValue)
        {
            return _lastLabel; // samples come in bursts of the same value
        }

        if (!_cache.TryGetValue(v, out string? s))
        {
            bool transient = false;
            s = Intern(DecodeRest(First.DecodeInteger(v, _width), ref transient));
            if (transient || _cache.Count >= CacheLimit)
            {
                return s; // not cached: not remembered as the last one either (series are told apart by instance)
            }

            _cache[v] = s;
        }

        _lastValue = v;
        _lastLabel = s;
        _hasLast = true;
        return s;
    }

    public override object? Property(ReadOnlySpan<byte> sample) =>
        IsSingle && First.IsNumeric ? First.NumericProperty(Field.ReadInt64(sample), _width) : Label(sample);
}
