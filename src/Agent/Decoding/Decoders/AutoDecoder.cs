namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>auto</c> (the default): the decoder the field's BTF type implies: char arrays as strings, enums by name,
/// integers as numbers (signed or not). Only first in a chain; <see cref="Resolve"/> picks the decoder.
/// </summary>
public static class AutoDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = "decoder 'auto' stands for a field's own type, so it can only be first in a chain";
        return null;
    }

    /// <summary>The decoder name for <paramref name="field"/>, or null with the reason.</summary>
    public static string? Resolve(EventField field, bool bytesAsString, out string? error)
    {
        error = null;
        string? name = field.Shape switch
        {
            FieldShape.CharArray => "string",
            FieldShape.ByteArray when bytesAsString => "string",
            FieldShape.Enum => "enum",
            FieldShape.Signed => "int",
            FieldShape.Unsigned => "uint",
            _ => null,
        };
        if (name is null)
        {
            error = $"field '{field.Path}' ({field.Kind}, {field.Size} bytes) has no default decoder; set \"decoder\" (string, ipv4, ipv6, hex...)";
        }

        return name;
    }
}
