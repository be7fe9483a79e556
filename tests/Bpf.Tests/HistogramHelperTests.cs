using System.Buffers.Binary;
using System.Numerics;

namespace Bpf.Tests;

/// <summary>
/// programs/include/bpf_agent.h's histogram helpers, run in the kernel by hist_helpers_test.bpf.c on
/// values chosen around every power-of-two edge, against the bucket definitions written out here.
/// </summary>
public sealed class HistogramHelperTests
{
    private const int MaxExp2 = 26;
    private const int MaxLinear = 9;
    private const ulong LinearWidth = 10;
    private const uint Label = 7;

    // exp2: the smallest b with v <= 2^b, bucket 0 for 0 and 1, capped.
    private static uint Exp2(ulong v) => (uint)Math.Min(v <= 1 ? 0 : 64 - BitOperations.LeadingZeroCount(v - 1), MaxExp2);

    private static uint Linear(ulong v) => (uint)Math.Min(v / LinearWidth, MaxLinear);

    private static ulong[] Inputs()
    {
        var values = new List<ulong> { 0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11, 19, 20, 89, 90, 99, 100, 1000 };
        foreach (int p in (int[])[10, 16, 25, 26, 31, 32, 40, 63])
        {
            ulong pow = 1UL << p;
            values.AddRange([pow - 1, pow, pow + 1]);
        }

        values.Add(ulong.MaxValue);
        var random = new Random(11);
        while (values.Count < 64)
        {
            values.Add((ulong)random.NextInt64(0, 1L << random.Next(1, 40)));
        }

        return [.. values];
    }

    private static byte[] Key(uint label, uint bucket)
    {
        byte[] k = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(k, label);
        BinaryPrimitives.WriteUInt32LittleEndian(k.AsSpan(4), bucket);
        return k;
    }

    [KernelFact]
    public void Buckets_counts_and_sums_match_the_definitions_at_every_edge()
    {
        ulong[] inputs = Inputs();
        using BpfObject obj = TestObjects.OpenForThisProcess("hist_helpers_test").Load();
        BpfMap input = obj.GetMap("inputs");
        for (uint i = 0; i < inputs.Length; i++)
        {
            input.Update(i, inputs[i]);
        }

        const int Triggers = 3;
        using (BpfLink link = obj.GetProgram("observe").Attach())
        {
            Trigger.Getppid(Triggers * inputs.Length); // each input observed Triggers times
        }

        BpfMap exp2 = obj.GetMap("exp2_out"), linear = obj.GetMap("linear_out");
        for (uint i = 0; i < inputs.Length; i++)
        {
            Assert.True(exp2.TryLookup(i, out ulong e));
            Assert.True(linear.TryLookup(i, out ulong l));
            Assert.True(Exp2(inputs[i]) == e, $"exp2({inputs[i]}) = {e}, want {Exp2(inputs[i])}");
            Assert.True(Linear(inputs[i]) == l, $"linear({inputs[i]}) = {l}, want {Linear(inputs[i])}");
        }

        // Expected histogram: per bucket, the count and the (wrapping, like the kernel's u64) sum.
        var count = new Dictionary<uint, ulong>();
        var sum = new Dictionary<uint, ulong>();
        ulong total = 0;
        foreach (ulong v in inputs)
        {
            uint b = Exp2(v);
            count[b] = count.GetValueOrDefault(b) + Triggers;
            sum[b] = unchecked(sum.GetValueOrDefault(b) + (v * Triggers));
            total = unchecked(total + (v * Triggers));
        }

        // Sum in the bucket after the last: exactly the buckets seen, plus that one.
        var hist = new BpfMapReader(obj.GetMap("hist"));
        var seen = new Dictionary<uint, ulong>();
        for (int n = hist.ReadNext(); n > 0; n = hist.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(Label, BinaryPrimitives.ReadUInt32LittleEndian(hist.GetKey(i)));
                seen.Add(BinaryPrimitives.ReadUInt32LittleEndian(hist.GetKey(i)[4..]), hist.SumUnsigned(i, 0));
            }
        }

        Assert.Equal(count.Keys.Append((uint)MaxExp2 + 1).Order(), seen.Keys.Order());
        Assert.All(count, p => Assert.Equal(p.Value, seen[p.Key]));
        Assert.Equal(total, seen[MaxExp2 + 1]);

        // Count and sum beside each bucket, summed over CPUs.
        var slots = new BpfMapReader(obj.GetMap("slots"));
        int buckets = 0;
        for (int n = slots.ReadNext(); n > 0; n = slots.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                uint b = BinaryPrimitives.ReadUInt32LittleEndian(slots.GetKey(i)[4..]);
                Assert.Equal(count[b], slots.SumUnsigned(i, 0));
                Assert.Equal(sum[b], slots.SumUnsigned(i, 8));
                buckets++;
            }
        }

        Assert.Equal(count.Count, buckets);
        Assert.False(obj.GetMap("slots").TryLookup(Key(Label, MaxExp2 + 1), new byte[obj.GetMap("slots").PerCpuValueSize]));
    }

    [KernelFact]
    public void A_key_a_full_map_refuses_is_counted_as_a_kernel_drop()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("hist_helpers_test").Load();
        using (BpfLink link = obj.GetProgram("observe").Attach())
        {
            Trigger.Getppid(4); // 4 x 3 adds: 2 keys fit, the third is refused each time
        }

        BpfMap tiny = obj.GetMap("tiny");
        Assert.True(tiny.TryLookup(0u, out ulong v0));
        Assert.True(tiny.TryLookup(1u, out ulong v1));
        Assert.Equal((20UL, 20UL), (v0, v1));
        Assert.False(tiny.TryLookup(2u, out ulong _));
        var drops = new ulong[Libbpf.PossibleCpuCount];
        Assert.True(obj.GetMap("bpf_agent_drops").TryLookupPerCpu(0u, drops.AsSpan()));
        Assert.Equal(4UL, drops.Aggregate(0UL, (a, b) => a + b));
    }
}
