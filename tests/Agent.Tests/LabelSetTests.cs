using System.Diagnostics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;

namespace BpfAgent.Tests;

/// <summary>LabelSet's series limit: real label sets up to maxSeries, then one overflow series, counted exactly.</summary>
public sealed class LabelSetTests
{
    private static readonly string[] s_comms = ["a", "b", "c", "d", "e"];

    private static Dictionary<string, object?> AsDictionary(TagList tags)
    {
        var d = new Dictionary<string, object?>();
        foreach (KeyValuePair<string, object?> t in tags)
        {
            d.Add(t.Key, t.Value);
        }

        return d;
    }

    [KernelFact]
    public void Past_the_series_limit_new_label_sets_go_to_overflow_and_are_counted()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var labels = new LabelSet([("comm", DecodeEvent.Decoder(layout, "comm", "string"))], maxSeries: 3);
        byte[][] samples = [.. s_comms.Select(c => DecodeEvent.Build(layout).Text("comm", c).Bytes)];

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

    [KernelFact]
    public void Several_labels_form_one_series_and_overflow_together()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var labels = new LabelSet(
            [
                ("comm", DecodeEvent.Decoder(layout, "comm", "string")),
                ("err", DecodeEvent.Decoder(layout, "err", "errno")),
                ("color", DecodeEvent.Decoder(layout, "color", "enum")),
                ("x", DecodeEvent.Decoder(layout, "inner.x", "auto")),
            ],
            maxSeries: 2);
        Assert.Equal(4, labels.Count);

        byte[] s1 = DecodeEvent.Build(layout).Text("comm", "bash").Int("err", -2).Int("color", DecodeEvent.Red).Int("inner.x", 7).Bytes;
        byte[] s2 = DecodeEvent.Build(layout).Text("comm", "bash").Int("err", -13).Int("color", DecodeEvent.Red).Int("inner.x", 7).Bytes;
        byte[] s3 = DecodeEvent.Build(layout).Text("comm", "bash").Int("err", -2).Int("color", DecodeEvent.Red).Int("inner.x", 8).Bytes;

        Assert.Equal(
            new Dictionary<string, object?> { ["comm"] = "bash", ["err"] = "ENOENT", ["color"] = "DECODE_RED", ["x"] = "7" },
            AsDictionary(labels.Tags(s1)));
        Assert.Equal("EACCES", AsDictionary(labels.Tags(s2))["err"]);

        // One differing label makes a new set: past the limit every label says overflow.
        Assert.Equal(
            new Dictionary<string, object?> { ["comm"] = "overflow", ["err"] = "overflow", ["color"] = "overflow", ["x"] = "overflow" },
            AsDictionary(labels.Tags(s3)));
        Assert.Equal(2, labels.SeriesCount);
        Assert.Equal(1, labels.OverflowSamples);
        Assert.Equal("ENOENT", AsDictionary(labels.Tags(s1))["err"]);
        Assert.Equal(1, labels.OverflowSamples);
    }

    [KernelFact]
    public void Tags_of_a_known_series_allocate_nothing()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var labels = new LabelSet(
            [
                ("comm", DecodeEvent.Decoder(layout, "comm", "string")),
                ("nr", DecodeEvent.Decoder(layout, "syscall_nr", "syscall")),
            ],
            maxSeries: 1);
        byte[] known = DecodeEvent.Build(layout).Text("comm", "bash").Int("syscall_nr", 39).Bytes;
        byte[] overflowing = DecodeEvent.Build(layout).Text("comm", "sshd").Int("syscall_nr", 39).Bytes;
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

    [KernelFact]
    public void No_labels_means_one_series_and_more_than_four_are_refused()
    {
        using OpenBpfObject obj = DecodeEvent.Open(out EventLayout layout);
        var none = new LabelSet([], maxSeries: 1);
        Assert.Empty(none.Tags(new byte[layout.Size]));
        Assert.Equal(0, none.OverflowSamples);

        FieldValueDecoder d = DecodeEvent.Decoder(layout, "u8v", "uint");
        Assert.Throws<ArgumentException>(() => new LabelSet([("a", d), ("b", d), ("c", d), ("d", d), ("e", d)], maxSeries: 10));
    }
}
