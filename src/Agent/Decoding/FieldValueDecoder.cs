using System.Globalization;
using System.Net;
using System.Text;
using BpfAgent.Configuration;

namespace BpfAgent.Decoding;

/// <summary>
/// Turns a field of a sample into a label value (a cached string: no allocation once a value was seen) or a
/// log property. One instance per label or log placeholder; used from one worker thread.
/// </summary>
public abstract class FieldValueDecoder
{
    /// <summary>Distinct values kept per decoder; past it values are still decoded, just not cached.</summary>
    /// <remarks>
    /// As large as the highest maxSeries: label sets are told apart by the cached instances, so a value must keep
    /// its instance for as long as series can still be added.
    /// </remarks>
    public const int CacheLimit = 100_000;

    protected FieldValueDecoder(EventField field) => Field = field;

    public EventField Field { get; }

    /// <summary>The label value of this field in <paramref name="sample"/>.</summary>
    public abstract string Label(ReadOnlySpan<byte> sample);

    /// <summary>The value as a structured log property (numbers stay numbers).</summary>
    public virtual object Property(ReadOnlySpan<byte> sample) => Label(sample);

    /// <summary>A decoder for <paramref name="field"/>, or null with <paramref name="error"/> saying why it does not fit.</summary>
    public static FieldValueDecoder? Create(EventField field, FieldDecoder kind, IReadOnlyDictionary<long, string>? values, out string? error)
    {
        error = null;
        if (kind == FieldDecoder.Auto)
        {
            kind = field.Shape switch
            {
                FieldShape.CharArray => FieldDecoder.String,
                FieldShape.Enum => FieldDecoder.Enum,
                FieldShape.Signed => FieldDecoder.Int,
                FieldShape.Unsigned => FieldDecoder.Uint,
                _ => FieldDecoder.Auto,
            };
            if (kind == FieldDecoder.Auto)
            {
                error = $"field '{field.Path}' ({field.Shape switch { FieldShape.ByteArray => "a byte array", _ => "not an integer, enum or char array" }}, {field.Size} bytes) has no default decoder; set \"decoder\" (string, ipv4, ipv6...)";
                return null;
            }
        }

        switch (kind)
        {
            case FieldDecoder.String:
                return field.Shape is FieldShape.CharArray or FieldShape.ByteArray ? new StringDecoder(field) : Fail(field, kind, "a char array", out error);
            case FieldDecoder.Ipv4:
                return field.Size >= 4 && field.BitSize == 0 ? new IpDecoder(field, 4) : Fail(field, kind, "at least 4 bytes", out error);
            case FieldDecoder.Ipv6:
                return field.Size >= 16 && field.BitSize == 0 ? new IpDecoder(field, 16) : Fail(field, kind, "at least 16 bytes", out error);
        }

        if (!field.IsInteger || field.Size > 8)
        {
            return Fail(field, kind, "an integer or enum", out error);
        }

        // uint and int reinterpret the field's own bits (as a C cast of the same width would): an __s32 of -1
        // read as uint is 4294967295, not 2^64-1. Kernel return values (errno) are signed whatever the field says.
        int width = field.BitSize != 0 ? field.BitSize : field.Size * 8;
        switch (kind)
        {
            case FieldDecoder.Uint:
                return new IntegerDecoder(field, v => ((ulong)v).ToString(CultureInfo.InvariantCulture), IntegerKind.Unsigned, width);
            case FieldDecoder.Int:
                return new IntegerDecoder(field, v => v.ToString(CultureInfo.InvariantCulture), IntegerKind.Signed, width);
            case FieldDecoder.Errno:
                return new IntegerDecoder(field, ValueNames.Errno, IntegerKind.Signed, width, numeric: false);
            case FieldDecoder.Syscall:
                return new IntegerDecoder(field, ValueNames.Syscall, IntegerKind.AsRead, width, numeric: false);
            case FieldDecoder.Ksym:
                return new IntegerDecoder(field, v => KernelSymbols.Shared.Resolve((ulong)v), IntegerKind.AsRead, width, numeric: false);
            case FieldDecoder.Map:
                IReadOnlyDictionary<long, string> map = values ?? new Dictionary<long, string>();
                return new IntegerDecoder(field, v => map.TryGetValue(v, out string? n) ? n : v.ToString(CultureInfo.InvariantCulture), IntegerKind.AsRead, width, numeric: false);
            case FieldDecoder.Enum:
                if (field.EnumType is null)
                {
                    return Fail(field, kind, "an enum-typed field (declare the field with its enum type in C)", out error);
                }

                Bpf.BtfType e = field.EnumType;
                return new IntegerDecoder(field, v => e.GetEnumName(v) ?? v.ToString(CultureInfo.InvariantCulture), IntegerKind.AsRead, width, numeric: false);
            default:
                return Fail(field, kind, "a known decoder", out error);
        }
    }

    private enum IntegerKind
    {
        /// <summary>The value as the field's BTF type reads it.</summary>
        AsRead,

        /// <summary>The field's bits zero-extended.</summary>
        Unsigned,

        /// <summary>The field's bits sign-extended.</summary>
        Signed,
    }

    private static FieldValueDecoder? Fail(EventField field, FieldDecoder kind, string needs, out string? error)
    {
        error = $"decoder '{kind.ToString().ToLowerInvariant()}' needs {needs}, but field '{field.Path}' is {field.Shape switch { FieldShape.CharArray => "a char array", FieldShape.ByteArray => "a byte array", FieldShape.Enum => "an enum", FieldShape.Signed => "a signed integer", FieldShape.Unsigned => "an unsigned integer", _ => "not an integer or array" }} of {field.Size} bytes";
        return null;
    }

    private sealed class IntegerDecoder(EventField field, Func<long, string> name, IntegerKind integerKind, int width, bool numeric = true) : FieldValueDecoder(field)
    {
        private readonly Dictionary<long, string> _cache = [];
        private long _lastValue;
        private string? _lastLabel;

        private long Read(ReadOnlySpan<byte> sample)
        {
            long v = Field.ReadInt64(sample);
            if (width >= 64 || width <= 0)
            {
                return v;
            }

            return integerKind switch
            {
                IntegerKind.Unsigned => v & ((1L << width) - 1),
                IntegerKind.Signed => (v << (64 - width)) >> (64 - width),
                _ => v,
            };
        }

        public override string Label(ReadOnlySpan<byte> sample)
        {
            long v = Read(sample);
            if (v == _lastValue && _lastLabel is not null)
            {
                return _lastLabel; // samples come in bursts of the same value
            }

            if (!_cache.TryGetValue(v, out string? s))
            {
                s = name(v);
                if (_cache.Count >= CacheLimit)
                {
                    return s; // not cached: not remembered as the last one either (series are told apart by instance)
                }

                _cache[v] = s;
            }

            _lastValue = v;
            _lastLabel = s;
            return s;
        }

        public override object Property(ReadOnlySpan<byte> sample) => numeric
            ? (integerKind == IntegerKind.Unsigned ? (ulong)Read(sample) : Read(sample))
            : Label(sample);
    }

    private sealed class StringDecoder : FieldValueDecoder
    {
        private readonly Dictionary<string, string> _cache = new(StringComparer.Ordinal);
        private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

        public StringDecoder(EventField field)
            : base(field) => _lookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();

        public override string Label(ReadOnlySpan<byte> sample)
        {
            ReadOnlySpan<byte> field = Field.Bytes(sample);

            // Fastest path: the whole field is byte for byte the previous sample's (samples come in bursts).
            if (_lastValue is not null && field.SequenceEqual(_lastField.AsSpan(0, _lastFieldLength)))
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

        private const int StackChars = 512;
        private const int RawKeyBytes = 32;
        private readonly byte[] _lastField = new byte[RawKeyBytes];
        private int _lastFieldLength;
        private string? _lastValue;
        private const int RawSlots = 256;
        private readonly byte[] _rawKeys = new byte[RawSlots * RawKeyBytes];
        private readonly int[] _rawLength = Enumerable.Repeat(-1, RawSlots).ToArray();
        private readonly string?[] _rawValues = new string?[RawSlots];

        private static int RawSlot(ReadOnlySpan<byte> bytes)
        {
            ulong h = (ulong)bytes.Length;
            while (bytes.Length >= 8)
            {
                h = (h ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * 0x9E3779B97F4A7C15UL;
                bytes = bytes[8..];
            }

            for (int i = 0; i < bytes.Length; i++)
            {
                h = (h ^ bytes[i]) * 0x9E3779B97F4A7C15UL;
            }

            return (int)(h >> 56);
        }
    }

    private sealed class IpDecoder(EventField field, int length) : FieldValueDecoder(field)
    {
        private readonly Dictionary<UInt128, string> _cache = [];

        public override string Label(ReadOnlySpan<byte> sample)
        {
            ReadOnlySpan<byte> b = Field.Bytes(sample)[..length];
            UInt128 key = length == 4 ? System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(b) : System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(b);
            if (_cache.TryGetValue(key, out string? s))
            {
                return s;
            }

            s = new IPAddress(b).ToString();
            if (_cache.Count < CacheLimit)
            {
                _cache[key] = s;
            }

            return s;
        }
    }
}
