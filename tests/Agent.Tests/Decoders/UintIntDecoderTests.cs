using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

public sealed class UintIntDecoderTests
{
    [Fact]
    public void Uint_reads_every_width_and_reinterprets_signed_bits()
    {
        Assert.Equal("200", On(U8, "uint").Label(Int(200, 1)));
        Assert.Equal("65535", On(U16, "uint").Label(Int(65535, 2)));
        Assert.Equal("4294967295", On(S32, "uint").Label(Int(-1, 4)));
        Assert.Equal("18446744073709551615", On(U64, "uint").Label(Int(-1, 8)));
        Assert.Equal(4294967295UL, On(S32, "uint").Property(Int(-1, 4)));

        // A 4-byte byte array is a u32 as ebpf_exporter reads a key slice.
        Assert.Equal("16909060", On(Bytes(4), "uint").Label([4, 3, 2, 1]));
    }

    [Fact]
    public void Int_sign_extends_the_fields_own_width()
    {
        Assert.Equal("-1", On(U16, "int").Label(Int(65535, 2)));
        Assert.Equal("-56", On(U8, "int").Label(Int(200, 1)));
        Assert.Equal("-9223372036854775808", On(S64, "int").Label(Int(long.MinValue, 8)));
        Assert.Equal(-1L, On(U16, "int").Property(Int(65535, 2)));
    }

    [Fact]
    public void Bitfields_are_masked_to_their_bits()
    {
        // A signed 4-bit field at bits 8-11 holding -3 (0b1101), every other bit set.
        EventField delta = EventField.Bits("v", 8, 4, 4, FieldShape.Signed);
        byte[] sample = [0xff, 0xF0 | 0b1101, 0xff, 0xff];
        Assert.Equal("-3", On(delta, "auto").Label(sample));
        Assert.Equal("13", On(delta, "uint").Label(sample));
    }

    [Fact]
    public void Integers_refuse_char_arrays()
    {
        Assert.Contains("'v'", Refusal(Chars(16), new DecoderSpec("uint")), StringComparison.Ordinal);
        Assert.Contains("int", Refusal(Bytes(3), new DecoderSpec("int")), StringComparison.Ordinal);
    }
}
