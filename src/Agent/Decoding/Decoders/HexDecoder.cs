namespace BpfAgent.Decoding.Decoders;

/// <summary><c>hex</c>: the bytes in lowercase hex, in memory order (an integer field: its little-endian bytes).</summary>
public sealed class HexDecoder : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new HexDecoder() : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input) => Convert.ToHexStringLower(input);
}
