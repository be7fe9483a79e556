using System.Buffers.Binary;

namespace Bpf.Tests;

/// <summary>
/// BpfMapReader on real kernel maps of map_kinds_test.bpf.c, filled by a getppid loop: batched reads equal
/// key iteration equal per-key lookups, for every map kind the agent reads.
/// </summary>
public sealed class MapReaderTests
{
    private const int KeySpace = 1024;

    public static TheoryData<string> MapNames => ["hash", "lru_hash", "percpu_hash", "lru_percpu_hash", "array", "percpu_array"];

    private static bool IsArray(string name) => name.EndsWith("array", StringComparison.Ordinal);

    private static bool IsLru(string name) => name.StartsWith("lru", StringComparison.Ordinal);

    /// <summary>One pass of a reader, as key to (value bytes) with per-CPU slots kept.</summary>
    private static Dictionary<uint, byte[]> ReadPass(BpfMapReader reader)
    {
        reader.Reset();
        var entries = new Dictionary<uint, byte[]>();
        int chunks = 0;
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            chunks++;
            Assert.True(n <= reader.Capacity);
            for (int i = 0; i < n; i++)
            {
                uint key = BinaryPrimitives.ReadUInt32LittleEndian(reader.GetKey(i));
                Assert.True(entries.TryAdd(key, reader.GetValue(i).ToArray()), $"key {key} read twice in one pass");
            }
        }

        Assert.True(reader.IsAtEnd);
        Assert.Equal(entries.Count, reader.PassCount);
        Assert.Equal(0, reader.ReadNext());
        return entries;
    }

    private static (int Count, uint Cpu, uint Key) Slot(byte[] value, int slotSize, int cpu) =>
        ((int)BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan(cpu * slotSize)),
         BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan((cpu * slotSize) + 4)),
         BinaryPrimitives.ReadUInt32LittleEndian(value.AsSpan((cpu * slotSize) + 8)));

    private static BpfObject LoadAndFill(int triggers)
    {
        BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        using BpfLink link = obj.GetProgram("fill").Attach();
        // Half on each CPU (when there are two), so per-CPU maps hold counts in more than one slot.
        int cpus = Math.Min(Environment.ProcessorCount, 2);
        for (int c = 0; c < cpus; c++)
        {
            int share = (triggers / cpus) + (c == 0 ? triggers % cpus : 0);
            CpuAffinity.Run(c, () => Trigger.Getppid(share));
        }

        return obj;
    }

    [KernelTheory]
    [MemberData(nameof(MapNames))]
    public void Batched_read_equals_key_iteration_equals_per_key_lookups(string name)
    {
        const int Triggers = 1500; // more than the key space: keys 0..475 are hit twice
        using BpfObject obj = LoadAndFill(Triggers);
        BpfMap map = obj.GetMap(name);
        var batch = new BpfMapReader(map, capacity: 100);
        var iterate = new BpfMapReader(map, capacity: 100, method: BpfMapReadMethod.Iterate);

        Dictionary<uint, byte[]> viaBatch = ReadPass(batch);
        Assert.Equal(MethodOnThisKernel(name, BpfMapReadMethod.Batch), batch.Method);
        Dictionary<uint, byte[]> viaIterate = ReadPass(iterate);

        Assert.Equal(viaBatch.Keys.Order(), viaIterate.Keys.Order());
        foreach ((uint key, byte[] value) in viaBatch)
        {
            Assert.Equal(value, viaIterate[key]);
            byte[] looked = new byte[batch.ValueStride];
            Assert.True(map.TryLookup(BitConverter.GetBytes(key), looked));
            Assert.Equal(value, looked);
        }

        // Counts: every event landed in its key (LRU maps may have evicted some, never invented any).
        long total = 0;
        foreach ((uint key, byte[] value) in viaBatch)
        {
            for (int cpu = 0; cpu < batch.CpuCount; cpu++)
            {
                (int count, uint onCpu, uint inKey) = Slot(value, batch.SlotSize, cpu);
                total += count;
                if (count > 0)
                {
                    Assert.Equal(key, inKey);
                    int expected = key < Triggers % KeySpace ? 2 : 1;
                    Assert.True(count <= expected, $"key {key} cpu {cpu}: {count} > {expected}");
                    if (batch.IsPerCpu)
                    {
                        Assert.Equal((uint)cpu, onCpu); // slot c was written on CPU c: the layout is right
                    }
                }
            }
        }

        if (IsLru(name))
        {
            Assert.InRange(total, 1, Triggers);
        }
        else
        {
            Assert.Equal(Triggers, total);
            Assert.Equal(KeySpace, viaBatch.Count);
        }
    }

    [KernelTheory]
    [MemberData(nameof(MapNames))]
    public void An_empty_map_reads_as_no_entries_and_an_array_as_all_zero_entries(string name)
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        BpfMap map = obj.GetMap(name);
        foreach (BpfMapReadMethod method in (BpfMapReadMethod[])[BpfMapReadMethod.Batch, BpfMapReadMethod.Iterate])
        {
            Dictionary<uint, byte[]> entries = ReadPass(new BpfMapReader(map, method: method));
            if (IsArray(name))
            {
                Assert.Equal(Enumerable.Range(0, KeySpace).Select(k => (uint)k), entries.Keys.Order());
                Assert.All(entries.Values, v => Assert.All(v, b => Assert.Equal(0, b)));
            }
            else
            {
                Assert.Empty(entries);
            }
        }
    }

    [KernelTheory]
    [InlineData("hash", BpfMapReadMethod.Batch)]
    [InlineData("hash", BpfMapReadMethod.Iterate)]
    [InlineData("percpu_hash", BpfMapReadMethod.Batch)]
    [InlineData("lru_percpu_hash", BpfMapReadMethod.Iterate)]
    public void Entries_deleted_between_reads_vanish_and_new_ones_appear(string name, BpfMapReadMethod method)
    {
        using BpfObject obj = LoadAndFill(300);
        BpfMap map = obj.GetMap(name);
        var reader = new BpfMapReader(map, capacity: 64, method: method);
        Dictionary<uint, byte[]> before = ReadPass(reader);
        Assert.Equal(300, before.Count);

        uint[] deleted = [0, 7, 63, 64, 299];
        foreach (uint k in deleted)
        {
            Assert.True(map.Delete(BitConverter.GetBytes(k)));
        }

        Dictionary<uint, byte[]> after = ReadPass(reader);
        Assert.Equal(before.Keys.Except(deleted).Order(), after.Keys.Order());

        // The program recreates a deleted key on its next event (seq 300 -> key 300, then 301...).
        using (BpfLink link = obj.GetProgram("fill").Attach())
        {
            Trigger.Getppid(2);
        }

        after = ReadPass(reader);
        Assert.Equal(before.Keys.Except(deleted).Append(300u).Append(301u).Order(), after.Keys.Order());
    }

    [KernelFact]
    public void A_map_larger_than_one_chunk_is_read_in_several_chunks_with_nothing_lost()
    {
        using BpfObject obj = LoadAndFill(KeySpace);
        BpfMap map = obj.GetMap("percpu_hash");
        var reader = new BpfMapReader(map, capacity: 10);
        reader.Reset();
        int chunks = 0;
        var keys = new HashSet<uint>();
        ulong count = 0;
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            chunks++;
            for (int i = 0; i < n; i++)
            {
                keys.Add(BinaryPrimitives.ReadUInt32LittleEndian(reader.GetKey(i)));
                count += reader.SumUnsigned(i, 0, 4);
            }
        }

        Assert.True(chunks >= KeySpace / reader.Capacity, $"{chunks} chunks of {reader.Capacity}");
        Assert.Equal(KeySpace, keys.Count);
        Assert.Equal((ulong)KeySpace, count);
    }

    [KernelFact]
    public void Per_cpu_values_are_one_padded_slot_per_possible_cpu_and_sum_to_the_events()
    {
        const int Triggers = 600;
        using BpfObject obj = LoadAndFill(Triggers);
        var reader = new BpfMapReader(obj.GetMap("percpu_array"));
        Assert.True(reader.IsPerCpu);
        Assert.Equal(12, reader.ValueSize);
        Assert.Equal(16, reader.SlotSize); // 12 rounded up to 8
        Assert.Equal(Libbpf.PossibleCpuCount, reader.CpuCount);
        Assert.Equal(16 * Libbpf.PossibleCpuCount, reader.ValueStride);

        reader.Reset();
        ulong sum = 0;
        var perCpuTotals = new long[reader.CpuCount];
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                ulong entrySum = 0;
                for (int cpu = 0; cpu < reader.CpuCount; cpu++)
                {
                    uint c = BinaryPrimitives.ReadUInt32LittleEndian(reader.GetValue(i, cpu));
                    perCpuTotals[cpu] += c;
                    entrySum += c;
                    Assert.Equal(12, reader.GetValue(i, cpu).Length);
                }

                Assert.Equal(entrySum, reader.SumUnsigned(i, 0, 4));
                sum += entrySum;
            }
        }

        Assert.Equal((ulong)Triggers, sum);
        if (Environment.ProcessorCount >= 2)
        {
            // The loop ran half on CPU 0 and half on CPU 1.
            Assert.Equal(Triggers / 2, perCpuTotals[0]);
            Assert.Equal(Triggers / 2, perCpuTotals[1]);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => reader.SumUnsigned(0, 10, 4));
    }

    [KernelFact]
    public void An_lpm_trie_reads_the_same_by_batch_and_by_iteration()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        BpfMap trie = obj.GetMap("trie");
        var inserted = new Dictionary<string, ulong>();
        for (int i = 0; i < 40; i++)
        {
            byte[] key = [(byte)(16 + (i % 17)), 0, 0, 0, 10, (byte)i, 0, 0]; // distinct in the first 16 bits
            trie.Update(key, BitConverter.GetBytes((ulong)i * 3));
            inserted[Convert.ToHexString(key)] = (ulong)i * 3;
        }

        foreach (BpfMapReadMethod method in (BpfMapReadMethod[])[BpfMapReadMethod.Batch, BpfMapReadMethod.Iterate])
        {
            var reader = new BpfMapReader(trie, capacity: 16, method: method);
            Assert.Equal(inserted.OrderBy(p => p.Key), ReadRaw(reader).Select(p => KeyValuePair.Create(p.Key, BitConverter.ToUInt64(p.Value))).OrderBy(p => p.Key));
            Assert.Equal(MethodOnThisKernel("trie", method), reader.Method);
        }
    }

    /// <summary>
    /// The read method a reader asked for <paramref name="asked"/> ends with on this kernel: 5.10 has no batch lookup for
    /// per-CPU arrays and LPM tries (the 6.1, 6.12 and 6.18 of the portability matrix have it), so there the reader
    /// falls back to key iteration, and the rest of each test checks what it read.
    /// </summary>
    private static BpfMapReadMethod MethodOnThisKernel(string map, BpfMapReadMethod asked) =>
        asked == BpfMapReadMethod.Batch && map is "percpu_array" or "trie" && KernelSupport.Release < new Version(6, 1)
            ? BpfMapReadMethod.Iterate
            : asked;

    [KernelFact]
    public void A_map_without_batch_lookup_falls_back_to_key_iteration()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        BpfMap progs = obj.GetMap("progs");
        BpfProgram fill = obj.GetProgram("fill");
        progs.Update(BitConverter.GetBytes(1u), BitConverter.GetBytes(fill.Fd));
        progs.Update(BitConverter.GetBytes(5u), BitConverter.GetBytes(fill.Fd));

        var reader = new BpfMapReader(progs);
        Assert.Equal(BpfMapReadMethod.Batch, reader.Method);
        Dictionary<string, byte[]> read = ReadRaw(reader);
        Assert.Equal(BpfMapReadMethod.Iterate, reader.Method); // the kernel answered ENOTSUPP: no batch for program arrays

        // get_next_key walks every index; only the two set ones have a value (user space sees program ids).
        uint id = fill.GetInfo().Id;
        Assert.Equal(["01000000", "05000000"], read.Keys.Order());
        Assert.All(read.Values, v => Assert.Equal(id, BitConverter.ToUInt32(v)));

        // The fallback sticks: the next pass iterates from the start.
        Assert.Equal(2, ReadRaw(reader).Count);
    }

    private static Dictionary<string, byte[]> ReadRaw(BpfMapReader reader)
    {
        reader.Reset();
        var read = new Dictionary<string, byte[]>();
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                read.Add(Convert.ToHexString(reader.GetKey(i)), reader.GetValue(i).ToArray());
            }
        }

        return read;
    }

    [KernelFact]
    public void Steady_state_reads_allocate_nothing()
    {
        using BpfObject obj = LoadAndFill(KeySpace);
        foreach (string name in (string[])["hash", "percpu_hash", "array"])
        {
            foreach (BpfMapReadMethod method in (BpfMapReadMethod[])[BpfMapReadMethod.Batch, BpfMapReadMethod.Iterate])
            {
                var reader = new BpfMapReader(obj.GetMap(name), capacity: 256, method: method);
                ulong warm = SumAll(reader);
                long before = GC.GetAllocatedBytesForCurrentThread();
                ulong again = SumAll(reader);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.Equal(warm, again);
                Assert.Equal((ulong)KeySpace, again);
                Assert.True(allocated == 0, $"{name} {method}: {allocated} bytes allocated by a pass of {KeySpace} entries");
            }
        }
    }

    private static ulong SumAll(BpfMapReader reader)
    {
        reader.Reset();
        ulong sum = 0;
        for (int n = reader.ReadNext(); n > 0; n = reader.ReadNext())
        {
            for (int i = 0; i < n; i++)
            {
                sum += reader.SumUnsigned(i, 0, 4);
            }
        }

        return sum;
    }

    [KernelFact]
    public void Btf_key_and_value_types_and_kernel_info_describe_the_map()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        BpfMap map = obj.GetMap("lru_percpu_hash");
        BtfType value = map.ValueType ?? throw new InvalidOperationException("no value type");
        Assert.Equal("fill_value", value.Resolve().Name);
        Assert.Equal(["count", "cpu", "key"], value.Resolve().Members.Select(m => m.Name));
        Assert.Equal(4, (map.KeyType ?? throw new InvalidOperationException("no key type")).Size);

        BtfType trieKey = obj.GetMap("trie").KeyType!.Resolve();
        Assert.Equal("trie_key", trieKey.Name);

        BpfMapInfo info = map.GetInfo();
        Assert.Equal(BpfMapType.LruPerCpuHash, info.Type);
        Assert.Equal("lru_percpu_hash", info.Name); // 15 characters: the kernel keeps them all
        Assert.Equal(4, info.KeySize);
        Assert.Equal(12, info.ValueSize);
        Assert.Equal(4 * KeySpace, info.MaxEntries);
        Assert.True(info.IsPerCpu);
        Assert.NotEqual(0u, info.Id);
        Assert.NotEqual(0u, info.BtfId);
        Assert.Equal(map.BtfKeyTypeId, info.BtfKeyTypeId);
        Assert.Equal(map.BtfValueTypeId, info.BtfValueTypeId);
        Assert.Equal(1u /* BPF_F_NO_PREALLOC */, obj.GetMap("trie").Flags);
        Assert.Equal(1u, obj.GetMap("trie").GetInfo().Flags);
    }

    [KernelFact]
    public void A_pinned_map_opened_by_path_reads_the_same_entries_and_info()
    {
        string dir = Path.Combine("/sys/fs/bpf", $"bpf-tests-reader-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "percpu_hash");
        try
        {
            using BpfObject obj = LoadAndFill(200);
            BpfMap map = obj.GetMap("percpu_hash");
            map.Pin(path);
            Dictionary<uint, byte[]> direct = ReadPass(new BpfMapReader(map));

            using (PinnedBpfMap pinned = PinnedBpfMap.Open(path))
            {
                Assert.Equal(map.GetInfo(), pinned.Info);
                Assert.Equal(BpfMapType.PerCpuHash, pinned.Info.Type);
                Assert.Equal(KeySpace, pinned.Info.MaxEntries);
                Dictionary<uint, byte[]> viaPin = ReadPass(new BpfMapReader(pinned, capacity: 32));
                Assert.Equal(direct.Keys.Order(), viaPin.Keys.Order());
                Assert.All(direct, p => Assert.Equal(p.Value, viaPin[p.Key]));
                var reader = new BpfMapReader(pinned);
                pinned.Dispose();
                Assert.Throws<ObjectDisposedException>(() => reader.ReadNext());
            }

            map.Unpin(path);
            BpfException e = Assert.Throws<BpfException>(() => PinnedBpfMap.Open(path));
            Assert.Equal(BpfErrorKind.NotFound, e.Kind);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            Directory.Delete(dir);
        }
    }

    [KernelFact]
    public void Opening_a_pinned_program_as_a_map_is_a_clear_error()
    {
        string dir = Path.Combine("/sys/fs/bpf", $"bpf-tests-notmap-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "fill");
        try
        {
            using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
            obj.GetProgram("fill").Pin(path);
            BpfException e = Assert.Throws<BpfException>(() => PinnedBpfMap.Open(path));
            Assert.Equal(BpfErrorKind.InvalidArgument, e.Kind);
            Assert.Contains("not a BPF map", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
            Directory.Delete(dir);
        }
    }

    [KernelFact]
    public void Kernel_errors_carry_a_kind_as_well_as_the_errno()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("map_kinds_test").Load();
        BpfMap hash = obj.GetMap("hash");
        byte[] value = new byte[12];
        hash.Update(BitConverter.GetBytes(1u), value, BpfMapUpdateFlags.NoExist);
        BpfException e = Assert.Throws<BpfException>(() => hash.Update(BitConverter.GetBytes(1u), value, BpfMapUpdateFlags.NoExist));
        Assert.Equal((17, BpfErrorKind.AlreadyExists), (e.Errno, e.Kind));
        e = Assert.Throws<BpfException>(() => hash.Update(BitConverter.GetBytes(2u), value, BpfMapUpdateFlags.Exist));
        Assert.Equal((2, BpfErrorKind.NotFound), (e.Errno, e.Kind));
        for (uint k = 2; k <= KeySpace; k++)
        {
            hash.Update(BitConverter.GetBytes(k), value);
        }

        e = Assert.Throws<BpfException>(() => hash.Update(BitConverter.GetBytes(5000u), value));
        Assert.Equal((7, BpfErrorKind.TooBig), (e.Errno, e.Kind));
        e = Assert.Throws<BpfException>(() => obj.GetMap("array").Update(BitConverter.GetBytes(5000u), value));
        Assert.Equal((7, BpfErrorKind.TooBig), (e.Errno, e.Kind));
    }

    [KernelFact]
    public void A_ring_buffer_has_no_entries_to_read()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("ringbuf_test").Load();
        BpfMap ring = obj.Maps.First(m => m.Type == BpfMapType.RingBuffer);
        ArgumentException e = Assert.Throws<ArgumentException>(() => new BpfMapReader(ring));
        Assert.Contains("no keys", e.Message, StringComparison.Ordinal);
    }
}
