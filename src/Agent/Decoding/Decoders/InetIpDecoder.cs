using System.Net;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>inet_ip</c>: 4 bytes as an IPv4 address, 16 as IPv6, in network order as they lie in memory. <c>ipv4</c> and
/// <c>ipv6</c> (bpf-agent's first names) read the first 4 or 16 bytes of a field at least that wide.
/// </summary>
public sealed class InetIpDecoder(int length, string name) : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error) => Make(spec, 0, out error);

    public static LabelDecoder? CreateIpv4(DecoderSpec spec, DecoderContext context, out string? error) => Make(spec, 4, out error);

    public static LabelDecoder? CreateIpv6(DecoderSpec spec, DecoderContext context, out string? error) => Make(spec, 16, out error);

    private static InetIpDecoder? Make(DecoderSpec spec, int length, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new InetIpDecoder(length, spec.Name) : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        if (length != 0 && input.Length >= length)
        {
            input = input[..length];
        }

        return input.Length is 4 or 16 ? new IPAddress(input).ToString() : "?" + Convert.ToHexStringLower(input); // as Go's net.IP prints a bad length
    }

    public override string? Bind(EventField field)
    {
        bool fits = field.BitSize == 0 && (length == 0 ? field.Size is 4 or 16 : field.Size >= length);
        string needs = length == 0 ? "4 or 16 bytes" : $"at least {length} bytes";
        return fits ? null : $"decoder '{name}' needs {needs}, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";
    }
}
