using System.Buffers.Binary;
using BpfAgent.Decoding;

namespace BpfAgent.Tests.Decoders;

/// <summary>
/// Decoders on layouts built from field lists (no BTF, no root): one field at offset 0 of a struct of its size,
/// samples written little-endian as the kernel would.
/// </summary>
internal static class DecoderKit
{
    public static EventLayout Layout(params EventField[] fields) =>
        EventLayout.FromFields("test_event", fields.Max(f => f.Offset + f.Size), fields);

    public static FieldValueDecoder On(EventField field, params DecoderSpec[] chain) => On(field, null, chain);

    public static FieldValueDecoder On(EventField field, DecoderContext? context, params DecoderSpec[] chain)
    {
        EventLayout layout = Layout(field);
        return FieldValueDecoder.Create(layout.Find(field.Path)!, chain, context, out string? error) ?? throw new InvalidOperationException(error);
    }

    public static FieldValueDecoder On(EventField field, params string[] chain) => On(field, [.. chain.Select(n => new DecoderSpec(n))]);

    /// <summary>Why the chain does not fit the field.</summary>
    public static string Refusal(EventField field, params DecoderSpec[] chain)
    {
        FieldValueDecoder? d = FieldValueDecoder.Create(Layout(field).Find(field.Path)!, chain, null, out string? error);
        Assert.True(d is null, $"{string.Join(", ", chain.Select(c => c.Name))} on {field} was accepted");
        return error!;
    }

    public static EventField U8 => EventField.At("v", 0, 1, FieldShape.Unsigned);

    public static EventField U16 => EventField.At("v", 0, 2, FieldShape.Unsigned);

    public static EventField U32 => EventField.At("v", 0, 4, FieldShape.Unsigned);

    public static EventField S32 => EventField.At("v", 0, 4, FieldShape.Signed);

    public static EventField U64 => EventField.At("v", 0, 8, FieldShape.Unsigned);

    public static EventField S64 => EventField.At("v", 0, 8, FieldShape.Signed);

    public static EventField Chars(int size) => EventField.At("v", 0, size, FieldShape.CharArray);

    public static EventField Bytes(int size) => EventField.At("v", 0, size, FieldShape.ByteArray);

    public static byte[] Int(long value, int size)
    {
        byte[] b = new byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(b, value);
        return b[..size];
    }

    public static byte[] Text(string s, int size)
    {
        byte[] b = new byte[size];
        System.Text.Encoding.UTF8.GetBytes(s).CopyTo(b, 0);
        return b;
    }
}
