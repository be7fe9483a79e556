using System.Buffers.Binary;

namespace Bpf.Tests;

/// <summary>Element operations on real kernel maps of maps_test.bpf.c.</summary>
public sealed class MapTests
{
    private static byte[] Key(uint k) => BitConverter.GetBytes(k);

    private static byte[] Value(ulong v) => BitConverter.GetBytes(v);

    [KernelFact]
    public void Lookup_update_and_delete_with_spans_on_a_hash_map()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        Span<byte> value = stackalloc byte[8];

        Assert.False(counts.TryLookup(Key(5), value));
        counts.Update(Key(5), Value(55));
        Assert.True(counts.TryLookup(Key(5), value));
        Assert.Equal(55UL, BinaryPrimitives.ReadUInt64LittleEndian(value));

        counts.Update(Key(5), Value(56));
        Assert.True(counts.TryLookup(Key(5), value));
        Assert.Equal(56UL, BinaryPrimitives.ReadUInt64LittleEndian(value));

        Assert.True(counts.Delete(Key(5)));
        Assert.False(counts.TryLookup(Key(5), value));
        Assert.False(counts.Delete(Key(5)));
    }

    [KernelFact]
    public void Typed_helpers_read_and_write_the_same_elements_as_spans()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");

        counts.Update(9u, 0x0102030405060708UL);
        Span<byte> raw = stackalloc byte[8];
        Assert.True(counts.TryLookup(Key(9), raw));
        Assert.Equal(Value(0x0102030405060708UL), raw.ToArray());

        counts.Update(Key(10), Value(1010));
        Assert.True(counts.TryLookup(10u, out ulong typed));
        Assert.Equal(1010UL, typed);
        Assert.False(counts.TryLookup(11u, out typed));
        Assert.Equal(0UL, typed);

        // Into a heap location (an array element): the library must not hand the kernel a movable address.
        var results = new ulong[1];
        Assert.True(counts.TryLookup(9u, out results[0]));
        Assert.Equal(0x0102030405060708UL, results[0]);
    }

    [KernelFact]
    public void Update_flags_are_enforced_by_the_kernel()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        counts.Update(1u, 1UL, BpfMapUpdateFlags.NoExist);

        BpfException e = Assert.Throws<BpfException>(() => counts.Update(1u, 2UL, BpfMapUpdateFlags.NoExist));
        Assert.Equal(17, e.Errno);
        Assert.Equal("bpf_map_update_elem", e.Function);
        Assert.Equal("counts", e.Subject);
        Assert.Contains("counts", e.Message, StringComparison.Ordinal);
        Assert.True(counts.TryLookup(1u, out ulong v));
        Assert.Equal(1UL, v);

        e = Assert.Throws<BpfException>(() => counts.Update(2u, 2UL, BpfMapUpdateFlags.Exist));
        Assert.Equal(2, e.Errno);
        Assert.False(counts.TryLookup(2u, out ulong _));

        counts.Update(1u, 3UL, BpfMapUpdateFlags.Exist);
        Assert.True(counts.TryLookup(1u, out v));
        Assert.Equal(3UL, v);
    }

    [KernelFact]
    public void A_full_hash_map_refuses_a_new_key_but_accepts_updates()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        for (uint k = 0; k < counts.MaxEntries; k++)
        {
            counts.Update(k, (ulong)k);
        }

        BpfException e = Assert.Throws<BpfException>(() => counts.Update(1000u, 1UL));
        Assert.Equal(7, e.Errno); // E2BIG
        counts.Update(3u, 333UL);
        Assert.True(counts.TryLookup(3u, out ulong v));
        Assert.Equal(333UL, v);
        Assert.Equal(counts.MaxEntries, counts.Keys().Count);
    }

    [KernelFact]
    public void Keys_and_TryGetNextKey_iterate_exactly_the_inserted_keys()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        Assert.Empty(counts.Keys());
        Assert.False(counts.TryGetNextKey([], stackalloc byte[4]));

        uint[] inserted = [3, 17, 42, 1000, 0xFFFFFFFF];
        foreach (uint k in inserted)
        {
            counts.Update(k, (ulong)k * 2);
        }

        uint[] viaKeys = [.. counts.Keys().Select(k => BitConverter.ToUInt32(k)).Order()];
        Assert.Equal(inserted, viaKeys);

        var viaNext = new List<uint>();
        Span<byte> current = stackalloc byte[4];
        Span<byte> next = stackalloc byte[4];
        bool first = true;
        while (counts.TryGetNextKey(first ? [] : current, next))
        {
            first = false;
            uint k = BitConverter.ToUInt32(next);
            viaNext.Add(k);
            Assert.True(counts.TryLookup(k, out ulong v));
            Assert.Equal((ulong)k * 2, v);
            next.CopyTo(current);
        }

        Assert.Equal(inserted, viaNext.Order());

        Assert.True(counts.Delete(Key(42)));
        Assert.Equal([3u, 17, 1000, 0xFFFFFFFF], counts.Keys().Select(k => BitConverter.ToUInt32(k)).Order().ToArray());
    }

    [KernelFact]
    public void The_counter_the_program_writes_is_visible_through_the_map()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        Assert.False(counts.TryLookup(1u, out ulong _));

        using BpfLink link = obj.GetProgram("count_calls").Attach();
        Trigger.Getppid(1);
        Assert.True(counts.TryLookup(1u, out ulong v));
        Assert.Equal(1UL, v);
        Trigger.Getppid(41);
        Assert.True(counts.TryLookup(1u, out v));
        Assert.Equal(42UL, v);
        Assert.Equal([1u], counts.Keys().Select(k => BitConverter.ToUInt32(k)));

        // User space and the program share the element: a reset from here is where the kernel continues.
        counts.Update(1u, 100UL);
        Trigger.Getppid(5);
        Assert.True(counts.TryLookup(1u, out v));
        Assert.Equal(105UL, v);
        Assert.Equal(47UL, obj.ReadGlobal<ulong>("hits"));
    }

    [KernelFact]
    public void A_per_cpu_lookup_returns_one_value_per_possible_cpu_that_sum_to_the_triggers()
    {
        const int Triggers = 200;
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap perCpu = obj.GetMap("per_cpu");
        int cpus = Libbpf.PossibleCpuCount;
        Assert.True(cpus >= 1);
        Assert.Equal(8 * cpus, perCpu.PerCpuValueSize);

        var values = new ulong[cpus];
        Assert.True(perCpu.TryLookupPerCpu(0u, values.AsSpan()));
        Assert.All(values, v => Assert.Equal(0UL, v));

        using (BpfLink link = obj.GetProgram("count_calls").Attach())
        {
            // From several threads, so more than one CPU is likely to count.
            Parallel.For(0, 4, _ => Trigger.Getppid(Triggers / 4));
        }

        Assert.True(perCpu.TryLookupPerCpu(0u, values.AsSpan()));
        Assert.Equal((ulong)Triggers, values.Aggregate(0UL, (a, b) => a + b));
        Assert.Equal((ulong)Triggers, obj.ReadGlobal<ulong>("hits"));

        // The raw form: one 8-byte slot per possible CPU.
        byte[] raw = new byte[perCpu.PerCpuValueSize];
        Assert.True(perCpu.TryLookup(Key(0), raw));
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            Assert.Equal(values[cpu], BitConverter.ToUInt64(raw, cpu * 8));
        }

        // An array has no key past its end; writes set every CPU's slot.
        Assert.False(perCpu.TryLookupPerCpu(1u, values.AsSpan()));
        byte[] write = new byte[perCpu.PerCpuValueSize];
        for (int cpu = 0; cpu < cpus; cpu++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(write.AsSpan(cpu * 8), (ulong)(cpu + 1) * 10);
        }

        perCpu.Update(Key(0), write);
        Assert.True(perCpu.TryLookupPerCpu(0u, values.AsSpan()));
        Assert.Equal(Enumerable.Range(1, cpus).Select(c => (ulong)c * 10), values);
    }

    [KernelFact]
    public void Wrong_key_and_value_sizes_throw_ArgumentException_before_reaching_the_kernel()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("maps_test").Load();
        BpfMap counts = obj.GetMap("counts");
        BpfMap perCpu = obj.GetMap("per_cpu");
        byte[] key = Key(1);
        byte[] value = Value(1);

        ArgumentException e = Assert.Throws<ArgumentException>(() => counts.TryLookup(new byte[3], value));
        Assert.Contains("keys are 4 bytes", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => counts.TryLookup(key, new byte[4]));
        Assert.Contains("8 bytes", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => counts.TryLookup(key, new byte[9]));
        Assert.Throws<ArgumentException>(() => counts.Update(new byte[8], value));
        Assert.Throws<ArgumentException>(() => counts.Update(key, new byte[4]));
        Assert.Throws<ArgumentException>(() => counts.Update(1UL, 1UL));
        Assert.Throws<ArgumentException>(() => counts.Update(1u, 1u));
        Assert.Throws<ArgumentException>(() => counts.TryLookup(1u, out uint _));
        Assert.Throws<ArgumentException>(() => counts.Delete(new byte[2]));
        Assert.Throws<ArgumentException>(() => counts.TryGetNextKey(new byte[3], new byte[4]));
        Assert.Throws<ArgumentException>(() => counts.TryGetNextKey([], new byte[8]));

        // A per-CPU value is one slot per possible CPU, not one value.
        Assert.Throws<ArgumentException>(() => perCpu.TryLookup(Key(0), new byte[8 * (Libbpf.PossibleCpuCount + 1)]));
        Assert.Throws<ArgumentException>(() => perCpu.TryLookupPerCpu(0u, new ulong[Libbpf.PossibleCpuCount - 1].AsSpan()));
        Assert.Throws<ArgumentException>(() => perCpu.TryLookupPerCpu(0u, new uint[Libbpf.PossibleCpuCount].AsSpan()));
        Assert.Throws<InvalidOperationException>(() => counts.TryLookupPerCpu(1u, new ulong[Libbpf.PossibleCpuCount].AsSpan()));

        // Nothing was written by the failed calls.
        Assert.Empty(counts.Keys());
    }
}
