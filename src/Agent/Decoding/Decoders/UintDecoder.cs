namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>uint</c>: an unsigned little-endian integer of 1, 2, 4 or 8 bytes as decimal. On an integer field it
/// reinterprets the field's own bits, as a C cast of the same width would (an __s32 of -1 is 4294967295).
/// </summary>
public sealed class UintDecoder : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new UintDecoder() : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input) =>
        TryReadUnsigned(input, out ulong v) ? Invariant(v) : $"unparsable:{input.Length}_bytes";

    public override string? DecodeInteger(long value, int widthBits) => Invariant(ZeroExtend(value, widthBits));

    public override bool IsNumeric => true;

    public override object? NumericProperty(long value, int widthBits) => ZeroExtend(value, widthBits);

    public override string? Bind(EventField field) =>
        field.IsInteger && field.Size <= 8 || field.Size is 1 or 2 or 4 or 8 && field.Shape is FieldShape.ByteArray ? null
            : $"decoder 'uint' needs an integer of 1, 2, 4 or 8 bytes, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";

    internal static ulong ZeroExtend(long value, int widthBits) =>
        widthBits is <= 0 or >= 64 ? (ulong)value : (ulong)value & ((1UL << widthBits) - 1);
}
