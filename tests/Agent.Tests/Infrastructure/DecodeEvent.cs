using System.Buffers.Binary;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Tests;

/// <summary>
/// <c>struct decode_event</c> of tests/Agent.Tests/bpf/decode_test.bpf.c: its layout read from the object's
/// real BTF, the offsets C's layout rules give it, and a builder of sample bytes placed by the BTF layout.
/// </summary>
public static class DecodeEvent
{
    public const string StructName = "decode_event";

    /// <summary>sizeof(struct decode_event) by C rules: the u64 at 80 aligns the end to 96.</summary>
    public const int Size = 96;

    /// <summary>Byte offsets by C rules (natural alignment, bitfields packed into the unsigned int at 64).</summary>
    public static readonly IReadOnlyDictionary<string, int> ExpectedOffsets = new Dictionary<string, int>
    {
        ["u8v"] = 0,
        ["u16v"] = 2,
        ["s32v"] = 4,
        ["u64v"] = 8,
        ["comm"] = 16,
        ["addr4"] = 32,
        ["addr6"] = 36,
        ["color"] = 52,
        ["inner"] = 56,
        ["inner.x"] = 56,
        ["inner.y"] = 60,
        ["flags"] = 64,
        ["level"] = 64,
        ["delta"] = 65,
        ["err"] = 68,
        ["syscall_nr"] = 72,
        ["kaddr"] = 80,
        ["s64v"] = 88,
    };

    /// <summary>The order of the <c>decode_layout</c> rodata array (clang's offsetof); its last entry is the sizeof.</summary>
    public static readonly string[] CompilerLayoutOrder =
        ["u8v", "u16v", "s32v", "u64v", "comm", "addr4", "addr6", "color", "inner", "inner.y", "err", "syscall_nr", "kaddr", "s64v"];

    /// <summary>Value of enum decode_color's enumerators.</summary>
    public const int Red = 1;
    public const int Green = 2;
    public const int Blue = 40;

    public static string ObjectPath => Paths.TestObject("decode_test");

    /// <summary>Opens the object (no load) and reads the layout from its BTF.</summary>
    public static OpenBpfObject Open(out EventLayout layout)
    {
        OpenBpfObject obj = OpenBpfObject.OpenFile(ObjectPath);
        try
        {
            layout = EventLayout.FromBtf(obj.Btf!, StructName);
            return obj;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>A decoder, failing the test with the reason when the field or decoder does not fit.</summary>
    public static FieldValueDecoder Decoder(EventLayout layout, string field, string decoder, IReadOnlyDictionary<long, string>? values = null)
    {
        var spec = new DecoderSpec(decoder)
        {
            StaticMap = decoder == "map" ? (values ?? new Dictionary<long, string>()).ToDictionary(p => p.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.Value) : null,
        };
        return Decoder(layout, field, [spec]);
    }

    /// <summary>A chain of decoders on a field, failing the test with the reason when it does not fit.</summary>
    public static FieldValueDecoder Decoder(EventLayout layout, string field, IReadOnlyList<DecoderSpec> chain, DecoderContext? context = null)
    {
        EventField f = layout.Find(field) ?? throw new InvalidOperationException($"no field {field}");
        return FieldValueDecoder.Create(f, chain, context, out string? error) ?? throw new InvalidOperationException(error);
    }

    public static DecodeEventBuilder Build(EventLayout layout) => new(layout);
}

/// <summary>Writes field values into a zeroed sample at the offsets the BTF layout gives.</summary>
public sealed class DecodeEventBuilder(EventLayout layout)
{
    public byte[] Bytes { get; } = new byte[layout.Size];

    private EventField Field(string name) => layout.Find(name) ?? throw new InvalidOperationException($"no field {name}");

    public DecodeEventBuilder Int(string name, long value)
    {
        EventField f = Field(name);
        Span<byte> s = Bytes.AsSpan(f.Offset, f.Size);
        switch (f.Size)
        {
            case 1:
                s[0] = (byte)value;
                break;
            case 2:
                BinaryPrimitives.WriteInt16LittleEndian(s, (short)value);
                break;
            case 4:
                BinaryPrimitives.WriteInt32LittleEndian(s, (int)value);
                break;
            case 8:
                BinaryPrimitives.WriteInt64LittleEndian(s, value);
                break;
            default:
                throw new InvalidOperationException($"{name} is {f.Size} bytes");
        }

        return this;
    }

    public DecodeEventBuilder UInt64(string name, ulong value) => Int(name, unchecked((long)value));

    public DecodeEventBuilder Raw(string name, ReadOnlySpan<byte> value)
    {
        EventField f = Field(name);
        if (value.Length > f.Size)
        {
            throw new InvalidOperationException($"{name} holds {f.Size} bytes");
        }

        Span<byte> s = Bytes.AsSpan(f.Offset, f.Size);
        s.Clear();
        value.CopyTo(s);
        return this;
    }

    public DecodeEventBuilder Text(string name, string value) => Raw(name, System.Text.Encoding.UTF8.GetBytes(value));

    /// <summary>Sets the byte at <paramref name="offset"/> (for bitfields, whose unit is shared).</summary>
    public DecodeEventBuilder Byte(int offset, byte value)
    {
        Bytes[offset] = value;
        return this;
    }
}
