using System.Runtime.InteropServices;
using System.Text;

namespace BpfAgent.Decoding;

/// <summary>
/// A char array decoded by <c>string</c> first: the text up to the first NUL, found without decoding or allocating
/// once seen (the previous field's bytes, then a direct-mapped cache of raw bytes, then a lookup by chars), then the
/// rest of the chain cached by that text's instance.
/// </summary>
internal sealed class TextFieldDecoder : FieldValueDecoder
{
    private const int StackChars = 512;
    private const int RawKeyBytes = 32;
    private const int RawSlots = 256;

    private readonly Dictionary<string, string> _cache = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly Dictionary<string, string?> _rest = new(ReferenceEqualityComparer.Instance);
    private readonly byte[] _lastField = new byte[RawKeyBytes];
    private int _lastFieldLength;
    private string? _lastValue;
    private readonly byte[] _rawKeys = new byte[RawSlots * RawKeyBytes];
    private readonly int[] _rawLength = Enumerable.Repeat(-1, RawSlots).ToArray();
    private readonly string?[] _rawValues = new string?[RawSlots];
    private string? _lastText;
    private string? _lastRest;

    public TextFieldDecoder(EventField field, LabelDecoder[] chain)
        : base(field, chain) => _lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();

    public override string? Label(ReadOnlySpan<byte> sample)
    {
        string text = Text(sample);
        return IsSingle ? text : Rest(text);
    }

    private string? Rest(string text)
    {
        if (ReferenceEquals(text, _lastText))
        {
            return _lastRest;
        }

        if (!_rest.TryGetValue(text, out string? s))
        {
            bool transient = false;
            s = Intern(DecodeRest(text, ref transient));
            if (transient || _rest.Count >= CacheLimit || !ReferenceEquals(text, _lookup.TryGetValue(text, out string? c) ? c : null))
            {
                return s;
            }

            _rest[text] = s;
        }

        _lastText = text;
        _lastRest = s;
        return s;
    }

    private string Text(ReadOnlySpan<byte> sample)
    {
        ReadOnlySpan<byte> field = Field.Bytes(sample);

        // Fastest path: the whole field is byte for byte the previous sample's (samples come in bursts).
        if (_lastValue is not null && Same(field, _lastField.AsSpan(0, _lastFieldLength)))
        {
            return _lastValue;
        }

        string label = LabelOf(field);
        if (field.Length <= RawKeyBytes && ReferenceEquals(label, _lookup.TryGetValue(label, out string? cached) ? cached : null))
        {
            field.CopyTo(_lastField);
            _lastFieldLength = field.Length;
            _lastValue = label;
        }

        return label;
    }

    // A char[16] (comm, the commonest) compared as two words, without a call.
    private static bool Same(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b) =>
        a.Length == 16 && b.Length == 16
            ? MemoryMarshal.Read<ulong>(a) == MemoryMarshal.Read<ulong>(b) && MemoryMarshal.Read<ulong>(a[8..]) == MemoryMarshal.Read<ulong>(b[8..])
            : a.SequenceEqual(b);

    private string LabelOf(ReadOnlySpan<byte> bytes)
    {
        int nul = bytes.IndexOf((byte)0);
        if (nul >= 0)
        {
            bytes = bytes[..nul];
        }

        // Fast path: a direct-mapped cache keyed by the raw bytes skips UTF-8 decoding and string hashing.
        int slot = -1;
        if (bytes.Length <= RawKeyBytes)
        {
            slot = RawSlot(bytes);
            if (_rawLength[slot] == bytes.Length && _rawKeys.AsSpan(slot * RawKeyBytes, bytes.Length).SequenceEqual(bytes))
            {
                return _rawValues[slot]!;
            }
        }

        string value = Decode(bytes);
        if (slot >= 0 && ReferenceEquals(value, _lookup.TryGetValue(value, out string? cached) ? cached : null))
        {
            bytes.CopyTo(_rawKeys.AsSpan(slot * RawKeyBytes));
            _rawLength[slot] = bytes.Length;
            _rawValues[slot] = value;
        }

        return value;
    }

    private string Decode(ReadOnlySpan<byte> bytes)
    {
        // Stack for the usual short strings; a large char array (the struct may hold kilobytes or more) would
        // overflow the worker's stack, so it gets a pooled buffer instead.
        int max = Encoding.UTF8.GetMaxCharCount(bytes.Length);
        char[]? rented = max > StackChars ? System.Buffers.ArrayPool<char>.Shared.Rent(max) : null;
        Span<char> chars = rented ?? stackalloc char[max];
        try
        {
            int n = Encoding.UTF8.GetChars(bytes, chars);
            ReadOnlySpan<char> text = chars[..n];
            if (_lookup.TryGetValue(text, out string? s))
            {
                return s;
            }

            s = new string(text);
            if (_cache.Count < CacheLimit)
            {
                _cache[s] = s;
            }

            return s;
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    internal static int RawSlot(ReadOnlySpan<byte> bytes) => (int)(BytesFieldDecoder.Hash(bytes) >> 56);
}
