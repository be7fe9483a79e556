using System.Text;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>dname</c>: a DNS name in wire format (length-prefixed labels: "\x07example\x03com") as dotted text
/// ("example.com"); empty is ".". It ends at the root label (a zero length), so a NUL-padded char array needs no
/// <c>string</c> before it. A label running past the end leaves the input as it was, as ebpf_exporter does.
/// </summary>
public sealed class DnameDecoder : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new DnameDecoder() : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        var text = new StringBuilder(input.Length);
        int off = 0;
        while (off < input.Length && input[off] != 0)
        {
            int n = input[off++];
            if (off + n > input.Length)
            {
                return Text(input);
            }

            if (text.Length > 0)
            {
                text.Append('.');
            }

            text.Append(Encoding.UTF8.GetString(input.Slice(off, n)));
            off += n;
        }

        return text.Length == 0 ? "." : text.ToString();
    }

    public override string? Bind(EventField field) => field.Shape is FieldShape.CharArray or FieldShape.ByteArray ? null
        : $"decoder 'dname' needs a char array holding a wire-format name, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";
}
