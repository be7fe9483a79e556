using System.Buffers.Binary;
using Bpf;

namespace BpfAgent.Decoding;

public enum FieldShape
{
    Signed,
    Unsigned,
    CharArray,
    ByteArray,
    Enum,
    Other,
}

/// <summary>One field of an event struct, located from BTF: where it is and how to read it.</summary>
public sealed class EventField
{
    internal EventField(string path, int bitOffset, int bitSize, int size, FieldShape shape, BtfType? enumType)
    {
        Path = path;
        Offset = bitOffset / 8;
        BitShift = bitSize == 0 ? 0 : bitOffset % 8;
        BitSize = bitSize;
        Size = size;
        Shape = shape;
        EnumType = enumType;
        _plainU64 = bitSize == 0 && size == 8 && shape == FieldShape.Unsigned;
    }

    // A whole __u64 (a latency, a byte count: the metric value of most programs): read without the general path.
    private readonly bool _plainU64;

    /// <summary>A field at a byte offset (for <see cref="EventLayout.FromFields"/>).</summary>
    public static EventField At(string path, int offset, int size, FieldShape shape) => new(path, offset * 8, 0, size, shape, null);

    /// <summary>A bitfield of <paramref name="bitSize"/> bits at <paramref name="bitOffset"/> in a unit of <paramref name="size"/> bytes.</summary>
    public static EventField Bits(string path, int bitOffset, int bitSize, int size, FieldShape shape) => new(path, bitOffset, bitSize, size, shape, null);

    public string Path { get; }

    public int Offset { get; }

    public int Size { get; }

    /// <summary>Bits of a bitfield, 0 otherwise.</summary>
    public int BitSize { get; }

    private int BitShift { get; }

    public FieldShape Shape { get; }

    public BtfType? EnumType { get; }

    /// <summary>The field's kind in C terms, for messages ("a char array"), never the internal shape name.</summary>
    public string Kind => Shape switch
    {
        FieldShape.CharArray => "a char array",
        FieldShape.ByteArray => "a byte array",
        FieldShape.Enum => "an enum",
        FieldShape.Signed => "a signed integer",
        FieldShape.Unsigned => "an unsigned integer",
        _ => "not an integer or array",
    };

    public bool IsInteger => Shape is FieldShape.Signed or FieldShape.Unsigned or FieldShape.Enum;

    /// <summary>The field as a signed 64-bit value (unsigned 64-bit values above long.MaxValue wrap).</summary>
    public long ReadInt64(ReadOnlySpan<byte> sample)
    {
        if (BitSize != 0)
        {
            ulong raw = ReadRawUnsigned(sample, Math.Min(8, sample.Length - Offset));

            // A shift by 64 is a shift by 0 in C#: a full-width bitfield (u64 x : 64) needs its own mask.
            ulong bits = BitSize >= 64 ? raw >> BitShift : (raw >> BitShift) & ((1UL << BitSize) - 1);
            return Shape == FieldShape.Signed && BitSize < 64 && (bits >> (BitSize - 1)) != 0 ? (long)(bits | (~0UL << BitSize)) : (long)bits;
        }

        ReadOnlySpan<byte> s = sample.Slice(Offset, Size);
        bool signed = Shape == FieldShape.Signed || (Shape == FieldShape.Enum && EnumType?.IsSignedEnum == true);
        return Size switch
        {
            1 => signed ? (sbyte)s[0] : s[0],
            2 => signed ? BinaryPrimitives.ReadInt16LittleEndian(s) : BinaryPrimitives.ReadUInt16LittleEndian(s),
            4 => signed ? BinaryPrimitives.ReadInt32LittleEndian(s) : BinaryPrimitives.ReadUInt32LittleEndian(s),
            8 => BinaryPrimitives.ReadInt64LittleEndian(s),
            _ => 0,
        };
    }

    /// <summary>The field as a double, honouring signedness (for metric values).</summary>
    public double ReadDouble(ReadOnlySpan<byte> sample)
    {
        if (_plainU64)
        {
            return BinaryPrimitives.ReadUInt64LittleEndian(sample.Slice(Offset, 8));
        }

        // ReadInt64 zero-extends unsigned fields, so only a full 64 bits (a u64, or a u64 bitfield of 64) can look negative.
        long v = ReadInt64(sample);
        bool unsigned = Shape == FieldShape.Unsigned || (Shape == FieldShape.Enum && EnumType?.IsSignedEnum != true);
        return unsigned ? (ulong)v : v;
    }

    /// <summary>The field's bytes.</summary>
    public ReadOnlySpan<byte> Bytes(ReadOnlySpan<byte> sample) => sample.Slice(Offset, Size);

    private ulong ReadRawUnsigned(ReadOnlySpan<byte> sample, int bytes)
    {
        ulong v = 0;
        for (int i = bytes - 1; i >= 0; i--)
        {
            v = (v << 8) | sample[Offset + i];
        }

        return v;
    }

    public override string ToString() => $"{Path} @{Offset} ({Size} bytes, {Shape})";
}
