using System.Buffers.Binary;
using System.Diagnostics;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;

namespace BpfAgent.Tests;

/// <summary>
/// LabelSet's series limit: real label sets up to maxSeries, then one overflow series, counted exactly. The layout is
/// built from a field list (no object, no kernel, no root): struct { char comm[16]; int err; u32 syscall_nr; u32 x; u8 u8v; }.
/// </summary>
public sealed class LabelSetTests
{
    private static readonly string[] s_comms = ["a", "b", "c", "d", "e"];

    private static readonly EventLayout s_layout = EventLayout.FromFields("label_event", 32,
    [
        EventField.At("comm", 0, 16, FieldShape.CharArray),
        EventField.At("err", 16, 4, FieldShape.Signed),
        EventField.At("syscall_nr", 20, 4, FieldShape.Unsigned),
        EventField.At("x", 24, 4, FieldShape.Unsigned),
        EventField.At("u8v", 28, 1, FieldShape.Unsigned),
    ]);

    private static FieldValueDecoder Decoder(string field, string decoder) => Decoders.DecoderKit.On(s_layout.Find(field)!, decoder);

    private static byte[] Sample(string comm, int err = 0, uint syscallNr = 0, uint x = 0)
    {
        byte[] b = new byte[s_layout.Size];
        System.Text.Encoding.ASCII.GetBytes(comm).CopyTo(b, 0);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(16), err);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(20), syscallNr);
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(24), x);
        return b;
    }

    private static Dictionary<string, object?> AsDictionary(TagList tags)
    {
        var d = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> t in tags)
        {
            d.Add(t.Key, t.Value);
        }

        return d;
    }

    [Fact]
    public void Past_the_series_limit_new_label_sets_go_to_overflow_and_are_counted()
    {
        var labels = new LabelSet([("comm", Decoder("comm", "string"))], maxSeries: 3);
        byte[][] samples = [.. s_comms.Select(c => Sample(c))];

        string[] values = [.. samples.Select(s => (string)AsDictionary(labels.Tags(s))["comm"]!)];
        Assert.Equal(["a", "b", "c", LabelSet.OverflowValue, LabelSet.OverflowValue], values);
        Assert.Equal(3, labels.SeriesCount);
        Assert.Equal(2, labels.OverflowSamples);

        // Known label sets are not new: no series added, nothing counted.
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("b", AsDictionary(labels.Tags(samples[1]))["comm"]);
            Assert.Equal("c", AsDictionary(labels.Tags(samples[2]))["comm"]);
        }

        Assert.Equal(3, labels.SeriesCount);
        Assert.Equal(2, labels.OverflowSamples);

        // Every sample of an overflowing label set is counted, not just the first.
        for (int i = 0; i < 7; i++)
        {
            Assert.Equal(LabelSet.OverflowValue, AsDictionary(labels.Tags(samples[3]))["comm"]);
        }

        Assert.Equal(9, labels.OverflowSamples);
        Assert.Equal(3, labels.SeriesCount);
    }

    [Fact]
    public void Several_labels_form_one_series_and_overflow_together()
    {
        var labels = new LabelSet(
            [
                ("comm", Decoder("comm", "string")),
                ("err", Decoder("err", "errno")),
                ("nr", Decoder("syscall_nr", "syscall")),
                ("x", Decoder("x", "uint")),
            ],
            maxSeries: 2);
        Assert.Equal(4, labels.Count);

        byte[] s1 = Sample("bash", err: -2, syscallNr: 39, x: 7);
        byte[] s2 = Sample("bash", err: -13, syscallNr: 39, x: 7);
        byte[] s3 = Sample("bash", err: -2, syscallNr: 39, x: 8);

        Assert.Equal(
            new Dictionary<string, object?> { ["comm"] = "bash", ["err"] = "ENOENT", ["nr"] = "getpid", ["x"] = "7" },
            AsDictionary(labels.Tags(s1)));
        Assert.Equal("EACCES", AsDictionary(labels.Tags(s2))["err"]);

        // One differing label makes a new set: past the limit every label says overflow.
        Assert.Equal(
            new Dictionary<string, object?> { ["comm"] = "overflow", ["err"] = "overflow", ["nr"] = "overflow", ["x"] = "overflow" },
            AsDictionary(labels.Tags(s3)));
        Assert.Equal(2, labels.SeriesCount);
        Assert.Equal(1, labels.OverflowSamples);
        Assert.Equal("ENOENT", AsDictionary(labels.Tags(s1))["err"]);
        Assert.Equal(1, labels.OverflowSamples);
    }

    [Fact]
    public void Tags_of_a_known_series_allocate_nothing()
    {
        var labels = new LabelSet(
            [
                ("comm", Decoder("comm", "string")),
                ("nr", Decoder("syscall_nr", "syscall")),
            ],
            maxSeries: 1);
        byte[] known = Sample("bash", syscallNr: 39);
        byte[] overflowing = Sample("sshd", syscallNr: 39);
        for (int i = 0; i < 100; i++)
        {
            _ = labels.Tags(known);
            _ = labels.Tags(overflowing);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int n = 0;
        for (int i = 0; i < 10_000; i++)
        {
            n += labels.Tags(known).Count + labels.Tags(overflowing).Count;
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(40_000, n);
        Assert.Equal(10_100, labels.OverflowSamples);
    }

    [Fact]
    public void No_labels_means_one_series_and_more_than_four_are_refused()
    {
        var none = new LabelSet([], maxSeries: 1);
        Assert.Empty(none.Tags(new byte[s_layout.Size]));
        Assert.Equal(0, none.OverflowSamples);

        FieldValueDecoder d = Decoder("u8v", "uint");
        Assert.Throws<ArgumentException>(() => new LabelSet([("a", d), ("b", d), ("c", d), ("d", d), ("e", d)], maxSeries: 10));
    }
}
