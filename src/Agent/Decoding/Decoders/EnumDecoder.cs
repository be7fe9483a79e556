namespace BpfAgent.Decoding.Decoders;

/// <summary><c>enum</c>: an enum-typed field's value as its enumerator's name from the object's BTF; a value with no name stays a number.</summary>
public sealed class EnumDecoder : LabelDecoder
{
    private Bpf.BtfType? _type;

    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new EnumDecoder() : null;
    }

    public override string? Bind(EventField field)
    {
        _type = field.EnumType;
        return _type is not null && field.Size <= 8 ? null
            : $"decoder 'enum' needs an enum-typed field (declare the field with its enum type in C), but field '{field.Path}' is {field.Kind} of {field.Size} bytes";
    }

    public override string? DecodeInteger(long value, int widthBits) => _type?.GetEnumName(value) ?? Invariant(value);

    public override string? Decode(ReadOnlySpan<byte> input) => "enum_needs_its_field"; // only first in a chain (FieldValueDecoder checks)
}
