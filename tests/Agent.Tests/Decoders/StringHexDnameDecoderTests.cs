using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

public sealed class StringHexDnameDecoderTests
{
    [Fact]
    public void String_stops_at_the_first_nul_and_reads_utf8()
    {
        FieldValueDecoder d = On(Chars(16), "string");
        Assert.Equal("bash", d.Label(Text("bash", 16)));
        byte[] junk = Text("bash", 16);
        junk[6] = (byte)'x'; // after the NUL: not part of the string
        Assert.Same(d.Label(Text("bash", 16)), d.Label(junk));
        Assert.Equal("é✓", d.Label(Text("é✓", 16)));
        Assert.Equal("0123456789abcdef", d.Label(Text("0123456789abcdef", 16))); // no NUL at all
    }

    [Fact]
    public void Hex_is_the_bytes_in_memory_order()
    {
        Assert.Equal("deadbeef", On(Bytes(4), "hex").Label([0xde, 0xad, 0xbe, 0xef]));
        Assert.Equal("01000000", On(U32, "hex").Label(Int(1, 4))); // a little-endian integer's bytes
        Assert.Equal("6263", On(Chars(2), "hex").Label(Text("bc", 2)));
    }

    [Theory]
    [InlineData("", ".")]
    [InlineData("\u0003com", "com")]
    [InlineData("\u0007example\u0003com", "example.com")]
    [InlineData("\u0005com", "\u0005com")] // a label past the end: left as it was
    public void Dname_reads_dns_wire_format_as_ebpf_exporter_does(string wire, string expected)
    {
        byte[] bytes = System.Text.Encoding.Latin1.GetBytes(wire);
        Assert.Equal(expected, On(Bytes(Math.Max(bytes.Length, 1)), "dname").Label(bytes.Length == 0 ? [0] : bytes));
    }

    [Fact]
    public void Dname_ends_at_the_root_label_of_a_nul_padded_array()
    {
        byte[] field = new byte[32];
        System.Text.Encoding.ASCII.GetBytes("\u0003www\u0007example\u0003org").CopyTo(field, 0);
        Assert.Equal("www.example.org", On(Chars(32), "dname").Label(field));
        Assert.Contains("dname", Refusal(U32, new DecoderSpec("dname")), StringComparison.Ordinal);
    }

    [Fact]
    public void Inet_ip_formats_4_and_16_bytes_and_refuses_other_sizes()
    {
        Assert.Equal("10.1.2.3", On(Bytes(4), "inet_ip").Label([10, 1, 2, 3]));
        byte[] v6 = new byte[16];
        v6[0] = 0x20;
        v6[1] = 0x01;
        v6[2] = 0x0d;
        v6[3] = 0xb8;
        v6[15] = 1;
        Assert.Equal("2001:db8::1", On(Bytes(16), "inet_ip").Label(v6));
        Assert.Equal("127.0.0.1", On(U32, "inet_ip").Label([127, 0, 0, 1])); // a __be32 kept in a u32
        Assert.Contains("4 or 16 bytes", Refusal(Bytes(8), new DecoderSpec("inet_ip")), StringComparison.Ordinal);
        Assert.Equal("10.1.2.3", On(Bytes(16), "ipv4").Label([10, 1, 2, 3, 9, 9, 9, 9, 0, 0, 0, 0, 0, 0, 0, 0])); // first 4 bytes
    }
}
