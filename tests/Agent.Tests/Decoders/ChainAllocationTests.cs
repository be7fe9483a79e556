using BpfAgent.Decoding;
using static BpfAgent.Tests.Decoders.DecoderKit;

namespace BpfAgent.Tests.Decoders;

/// <summary>Chains keep the per-sample path of single decoders: a value seen before is a cached string, no allocation.</summary>
public sealed class ChainAllocationTests
{
    [Fact]
    public void Seen_values_of_chains_allocate_nothing_and_keep_their_instance()
    {
        var states = new Dictionary<string, string> { ["1"] = "one", ["2"] = "two" };
        EventField u32 = EventField.At("u32", 0, 4, FieldShape.Unsigned);
        EventField comm = EventField.At("comm", 4, 16, FieldShape.CharArray);
        EventField addr = EventField.At("addr", 20, 16, FieldShape.ByteArray);
        EventField wire = EventField.At("wire", 36, 32, FieldShape.CharArray);
        EventLayout layout = Layout(u32, comm, addr, wire);
        FieldValueDecoder Chain(string field, params DecoderSpec[] chain) =>
            FieldValueDecoder.Create(layout.Find(field)!, chain, null, out string? e) ?? throw new InvalidOperationException(e);

        FieldValueDecoder[] decoders =
        [
            Chain("u32", new DecoderSpec("uint"), new DecoderSpec("static_map") { StaticMap = states }),
            Chain("u32", new DecoderSpec("uint"), new DecoderSpec("errno")),
            Chain("comm", new DecoderSpec("string"), new DecoderSpec("regexp") { Regexps = ["^b", "^s"] }),
            Chain("comm", new DecoderSpec("regexp") { Regexps = ["^bash$"] }), // drops "sshd": null, cached too
            Chain("addr", new DecoderSpec("inet_ip")),
            Chain("addr", new DecoderSpec("hex")),
            Chain("wire", new DecoderSpec("dname")),
            Chain("u32", new DecoderSpec("hex"), new DecoderSpec("static_map") { StaticMap = states, AllowUnknown = true }),
        ];
        byte[] a = Sample(layout, 1, "bash");
        byte[] a2 = Sample(layout, 1, "bash");
        byte[] b = Sample(layout, 2, "sshd");
        foreach (FieldValueDecoder d in decoders)
        {
            string? first = d.Label(a);
            Assert.Same(first, d.Label(a2));
            _ = d.Label(b);
            Assert.Same(first, d.Label(a));
        }

        for (int i = 0; i < 2_000; i++)
        {
            DecodeAll(decoders, a, b);
        }

        var windows = new List<long>();
        for (int w = 0; w < 3 && (windows.Count == 0 || windows[^1] != 0); w++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                DecodeAll(decoders, a, b);
            }

            windows.Add(GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.True(windows[^1] == 0, $"bytes allocated per window of 10,000 decodes: {string.Join(", ", windows)}");
    }

    private static int DecodeAll(FieldValueDecoder[] decoders, byte[] a, byte[] b)
    {
        int n = 0;
        foreach (FieldValueDecoder d in decoders)
        {
            n += (d.Label(a)?.Length ?? 0) + (d.Label(b)?.Length ?? 0);
        }

        return n;
    }

    private static byte[] Sample(EventLayout layout, int n, string comm)
    {
        byte[] s = new byte[layout.Size];
        BitConverter.TryWriteBytes(s.AsSpan(0), (uint)n);
        System.Text.Encoding.ASCII.GetBytes(comm).CopyTo(s, 4);
        s[20] = 10;
        s[35] = (byte)n;
        System.Text.Encoding.ASCII.GetBytes($"\u0003www\u0007example\u0003or{(char)('a' + n)}").CopyTo(s, 36);
        return s;
    }
}
