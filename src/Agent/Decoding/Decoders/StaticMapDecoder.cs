namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>static_map</c>: its input text looked up in <c>static_map</c>; a missing one is "unknown:INPUT", or the input
/// itself with <c>allow_unknown</c> (ebpf_exporter's semantics). First on an integer field the input is the value as
/// decimal (as after <c>uint</c>, or <c>int</c> for a signed field). <c>map</c>, bpf-agent's first name, is the same
/// lookup with unknown values left as numbers.
/// </summary>
public sealed class StaticMapDecoder(string name, IReadOnlyDictionary<string, string> map, bool allowUnknown, bool numbersOnly) : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error) => Make(spec, spec.AllowUnknown, numbersOnly: false, out error);

    public static LabelDecoder? CreateNumberMap(DecoderSpec spec, DecoderContext context, out string? error) => Make(spec, allowUnknown: true, numbersOnly: true, out error);

    private static StaticMapDecoder? Make(DecoderSpec spec, bool allowUnknown, bool numbersOnly, out string? error)
    {
        error = numbersOnly ? spec.Unexpected("static_map") : spec.Unexpected("static_map", "allow_unknown");
        if (error is null && spec.StaticMap is null)
        {
            error = $"decoder '{spec.Name}' needs \"static_map\": {{ \"input\": \"label value\", ... }}";
        }

        return error is null ? new StaticMapDecoder(spec.Name, spec.StaticMap!, allowUnknown, numbersOnly) : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input) => Lookup(Text(input));

    public override string? DecodeInteger(long value, int widthBits) => Lookup(Invariant(value));

    public override string? Bind(EventField field) =>
        field.IsInteger && field.Size <= 8 || !numbersOnly && field.Shape == FieldShape.CharArray ? null
            : $"decoder '{name}' needs an integer or enum{(numbersOnly ? "" : " (or a char array)")}, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";

    private string Lookup(string key) => map.TryGetValue(key, out string? v) ? v : allowUnknown ? key : "unknown:" + key;
}
