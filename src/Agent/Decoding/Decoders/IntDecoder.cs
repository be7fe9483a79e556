namespace BpfAgent.Decoding.Decoders;

/// <summary><c>int</c>: a signed little-endian integer as decimal; on an integer field its bits sign-extended (a u16 of 65535 is -1).</summary>
public sealed class IntDecoder : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new IntDecoder() : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input) =>
        TryReadUnsigned(input, out ulong v) ? Invariant(SignExtend((long)v, input.Length * 8)) : $"unparsable:{input.Length}_bytes";

    public override string? DecodeInteger(long value, int widthBits) => Invariant(SignExtend(value, widthBits));

    public override bool IsNumeric => true;

    public override object? NumericProperty(long value, int widthBits) => SignExtend(value, widthBits);

    public override string? Bind(EventField field) =>
        field.IsInteger && field.Size <= 8 || field.Size is 1 or 2 or 4 or 8 && field.Shape is FieldShape.ByteArray ? null
            : $"decoder 'int' needs an integer of 1, 2, 4 or 8 bytes, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";

    internal static long SignExtend(long value, int widthBits) =>
        widthBits is <= 0 or >= 64 ? value : (value << (64 - widthBits)) >> (64 - widthBits);
}
