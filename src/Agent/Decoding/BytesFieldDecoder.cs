using System.Buffers.Binary;

namespace BpfAgent.Decoding;

/// <summary>
/// Any other field (byte arrays, structs, addresses arrays) whose first decoder takes its raw bytes: the chain's
/// result cached by those bytes (the previous sample's first, then a hash table compared byte for byte).
/// </summary>
internal sealed class BytesFieldDecoder(EventField field, LabelDecoder[] chain) : FieldValueDecoder(field, chain)
{
    private readonly Dictionary<ulong, Entry> _cache = [];
    private int _count;
    private Entry? _last;

    public override string? Label(ReadOnlySpan<byte> sample)
    {
        ReadOnlySpan<byte> bytes = Field.Bytes(sample);
        if (_last is not null && bytes.SequenceEqual(_last.Key))
        {
            return _last.Value;
        }

        ulong h = Hash(bytes);
        if (_cache.TryGetValue(h, out Entry? e))
        {
            for (Entry? x = e; x is not null; x = x.Next)
            {
                if (bytes.SequenceEqual(x.Key))
                {
                    _last = x;
                    return x.Value;
                }
            }
        }

        bool transient = false;
        string? s = Intern(DecodeRest(First.Decode(bytes), ref transient));
        if (transient || _count >= CacheLimit)
        {
            return s;
        }

        var entry = new Entry(bytes.ToArray(), s, e);
        _cache[h] = entry;
        _count++;
        _last = entry;
        return s;
    }

    /// <summary>A 64-bit multiplicative hash of the bytes (not for untrusted collisions: entries are compared whole).</summary>
    internal static ulong Hash(ReadOnlySpan<byte> bytes)
    {
        ulong h = (ulong)bytes.Length;
        while (bytes.Length >= 8)
        {
            h = (h ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * 0x9E3779B97F4A7C15UL;
            bytes = bytes[8..];
        }

        for (int i = 0; i < bytes.Length; i++)
        {
            h = (h ^ bytes[i]) * 0x9E3779B97F4A7C15UL;
        }

        return h;
    }

    private sealed record Entry(byte[] Key, string? Value, Entry? Next);
}
