namespace BpfAgent.Decoding.Decoders;

/// <summary><c>string</c>: bytes up to the first NUL (or all of them), as UTF-8.</summary>
public sealed class StringDecoder : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new StringDecoder() : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        int nul = input.IndexOf((byte)0);
        return Text(nul >= 0 ? input[..nul] : input);
    }

    public override string? Bind(EventField field) => field.Shape is FieldShape.CharArray or FieldShape.ByteArray ? null
        : $"decoder 'string' needs a char array, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";
}
