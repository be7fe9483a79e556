using BpfAgent.Configuration;
using BpfAgent.Metrics.Maps;

namespace BpfAgent.Tests;

/// <summary>ebpf_exporter's bucket kinds: upper bounds per index, the sum index, indexes outside the buckets ignored.</summary>
public sealed class MapBucketsTests
{
    [Fact]
    public void Exp2_bounds_are_powers_of_two_times_the_multiplier_and_the_sum_follows_the_last()
    {
        var b = new MapBuckets(new MapBucketsConfig { Field = "bucket", Kind = BucketKind.Exp2, Min = 0, Max = 3, Multiplier = 0.000001 });
        Assert.Equal([0.000001, 0.000002, 0.000004, 0.000008], b.Bounds);
        Assert.Equal(5, b.SlotCount);
        Assert.Equal([0, 1, 2, 3], new long[] { 0, 1, 2, 3 }.Select(b.SlotOf));
        Assert.Equal(MapBuckets.SumSlot, b.SlotOf(4));
        Assert.Equal(MapBuckets.Ignored, b.SlotOf(5));
        Assert.Equal(MapBuckets.Ignored, b.SlotOf(-1));
    }

    [Fact]
    public void Exp2zero_keeps_index_zero_for_zero_and_a_min_shifts_the_slots()
    {
        var b = new MapBuckets(new MapBucketsConfig { Field = "b", Kind = BucketKind.Exp2Zero, Min = 0, Max = 4 });
        Assert.Equal([0, 1, 2, 4, 8], b.Bounds);
        var shifted = new MapBuckets(new MapBucketsConfig { Field = "b", Kind = BucketKind.Exp2, Min = 2, Max = 4 });
        Assert.Equal([4, 8, 16], shifted.Bounds);
        Assert.Equal(MapBuckets.Ignored, shifted.SlotOf(1));
        Assert.Equal(0, shifted.SlotOf(2));
        Assert.Equal(MapBuckets.SumSlot, shifted.SlotOf(5));
    }

    [Fact]
    public void Linear_and_fixed_bounds_are_index_times_multiplier()
    {
        var linear = new MapBuckets(new MapBucketsConfig { Field = "b", Kind = BucketKind.Linear, Min = 0, Max = 3, Multiplier = 10 });
        Assert.Equal([0, 10, 20, 30], linear.Bounds);
        var fixedKeys = new MapBuckets(new MapBucketsConfig { Field = "b", Kind = BucketKind.Fixed, Keys = [1, 10, 100], Multiplier = 0.001 });
        Assert.Equal([0.001, 0.01, 0.1], fixedKeys.Bounds);
        Assert.Equal(1, fixedKeys.SlotOf(10));
        Assert.Equal(MapBuckets.Ignored, fixedKeys.SlotOf(11));
        Assert.Equal(MapBuckets.SumSlot, fixedKeys.SlotOf(101));
    }
}
