namespace Bpf.Tests;

/// <summary>
/// Reading a ring in segments: records cut on one thread and read in place on another, in order, byte-exact; one
/// segment of a ring out at a time; the kernel gets the space back only as it is read and released; a reader that
/// stops early hands the rest to the next cut; libbpf is not asked to wait while a segment is out.
/// </summary>
public sealed class RingSegmentTests
{
    [KernelFact]
    public void Segments_cut_on_one_thread_are_read_in_place_on_another_in_order_and_byte_exact()
    {
        const int Triggers = 40;
        const uint Burst = 8;
        using BpfObject obj = Load(Burst, ringBytes: 4 * Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        using var rb = new RingBuffer(obj.GetMap("events"));
        string comm = TestEvent.CurrentThreadComm();

        var seen = new List<byte[]>();
        for (int t = 0; t < Triggers; t++)
        {
            Trigger.Getppid(1); // 8 records of 56 bytes: less than a lap of the 16 KiB ring, which wraps many times
            Assert.True(rb.Wait(1000));
            if (rb.TryTakeFirst(0, out ReadOnlySpan<byte> first))
            {
                seen.Add(first.ToArray());
            }

            // One segment: everything after the first record, read on another thread before it is released.
            Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
            Assert.Equal(0, segment.Ring);
            Assert.Equal((Burst - 1) * 56L, segment.SpanBytes);
            Assert.False(rb.AllReleased(0));
            Assert.False(rb.TryCut(0, 1 << 20, out _)); // nothing written past the segment
            List<byte[]> read = Task.Run(() => ReadAndRelease(segment, int.MaxValue)).Result;
            Assert.Equal((int)Burst - 1, read.Count);
            seen.AddRange(read);
            Assert.True(rb.AllReleased(0));
            Assert.False(rb.TryCut(0, 1 << 20, out _)); // nothing new
        }

        Assert.Equal((int)(Triggers * Burst), seen.Count);
        for (int i = 0; i < seen.Count; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i, TestEvent.KindReserved, comm), seen[i]);
        }

        Assert.Equal(seen.Count, rb.Rings[0].SamplesReceived);
        Assert.Equal(0, rb.PendingBytes(0));
    }

    [KernelFact]
    public void Space_goes_back_to_the_kernel_only_on_release_and_wait_does_not_call_libbpf_meanwhile()
    {
        const uint Burst = 8;
        using BpfObject obj = Load(Burst, ringBytes: Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        using var rb = new RingBuffer(obj.GetMap("events"));

        FireAndTakeFirst(rb, 1);
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
        // Cut but not released: the kernel still counts the bytes as unconsumed, and Wait returns at once.
        Assert.Equal((long)(Burst - 1) * 56, rb.PendingBytes(0));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(rb.Wait(2000));
        Assert.True(watch.ElapsedMilliseconds < 1000, $"Wait blocked {watch.ElapsedMilliseconds} ms with a segment out");
        Assert.False(rb.TryTakeFirst(0, out _)); // libbpf was not called: no record was taken out of the ring

        Assert.Equal((int)Burst - 1, ReadAndRelease(segment, int.MaxValue).Count);
        Assert.Equal(0, rb.PendingBytes(0));
        Assert.Equal(Burst, rb.Rings[0].SamplesReceived);
        Assert.False(rb.Wait(50)); // nothing left: a real wait that times out
    }

    [KernelFact]
    public void Segments_cut_ahead_are_read_in_order_each_from_where_the_previous_reader_stopped()
    {
        const uint Burst = 8;
        using BpfObject obj = Load(Burst, ringBytes: Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        using var rb = new RingBuffer(obj.GetMap("events"));
        string comm = TestEvent.CurrentThreadComm();

        FireAndTakeFirst(rb, 1);

        // 100 bytes at a time over seven records of 56: a record that starts in a segment and runs past its end is that
        // segment's; a segment in which no record starts reads none. Every segment is cut before any is read.
        var segments = new List<RingSegment>();
        while (rb.TryCut(0, 100, out RingSegment segment))
        {
            segments.Add(segment);
        }

        Assert.Equal(4, segments.Count); // 392 bytes
        Assert.All(segments.Take(3), s => Assert.Equal(100, s.SpanBytes));
        List<int> counts = Task.Run(() => segments.Select(s =>
        {
            RingSegment.Reader reader = s.GetEnumerator();
            int n = 0;
            while (reader.MoveNext())
            {
                Assert.Equal(TestEvent.Expected((reader.Position / 56) - 1, TestEvent.KindReserved, comm), reader.Current.ToArray()); // the ring is new: record k at 56 k
                n++;
            }

            reader.Release();
            return n;
        }).ToList()).Result;

        Assert.Equal([2, 2, 2, 1], counts); // from 56: records at 56 and 112, 168 and 224, 280 and 336, 392
        Assert.True(rb.AllReleased(0));
        Assert.Equal(0, rb.PendingBytes(0));
        Assert.Equal(Burst, rb.Rings[0].SamplesReceived);
    }

    [KernelFact]
    public void A_reader_that_stops_early_hands_the_rest_to_the_next_cut()
    {
        const uint Burst = 8;
        using BpfObject obj = Load(Burst, ringBytes: Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        using var rb = new RingBuffer(obj.GetMap("events"));
        string comm = TestEvent.CurrentThreadComm();

        FireAndTakeFirst(rb, 1);
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment first));
        List<byte[]> read = ReadAndRelease(first, 3);
        Assert.Equal(4 * 56L, rb.PendingBytes(0)); // three of seven released
        Assert.Equal(4, rb.Rings[0].SamplesReceived); // the copied first record and the three read

        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment rest));
        Assert.Equal(4 * 56L, rest.SpanBytes);
        read.AddRange(ReadAndRelease(rest, int.MaxValue));
        Assert.Equal(7, read.Count);
        for (int i = 0; i < read.Count; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i + 1, TestEvent.KindReserved, comm), read[i]);
        }

        Assert.Equal(0, rb.PendingBytes(0));
        Assert.Equal(Burst, rb.Rings[0].SamplesReceived);
    }

    [KernelFact]
    public void A_long_segment_gives_space_back_as_it_is_read()
    {
        const uint Burst = 8;
        const int Triggers = 30; // 240 records of 56 bytes: 13 KiB of a 16 KiB ring, given back a quarter ring at a time
        using BpfObject obj = Load(Burst, ringBytes: 4 * Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        using var rb = new RingBuffer(obj.GetMap("events"));

        FireAndTakeFirst(rb, Triggers);
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
        long total = rb.PendingBytes(0);
        Assert.Equal(segment.SpanBytes, total);

        RingSegment.Reader reader = segment.GetEnumerator();
        for (int i = 0; i < 150; i++)
        {
            Assert.True(reader.MoveNext());
        }

        long pending = rb.PendingBytes(0);
        Assert.True(pending < total - Environment.SystemPageSize, $"nothing given back while reading: {pending} of {total} bytes pending");
        Assert.True(pending > 0);
        Assert.False(rb.AllReleased(0)); // still out: no cut, no libbpf call
        while (reader.MoveNext())
        {
        }

        reader.Release();
        Assert.Equal(0, rb.PendingBytes(0));
        Assert.Equal(Triggers * Burst, rb.Rings[0].SamplesReceived);
    }

    [KernelFact]
    public void Dispose_with_a_segment_out_keeps_the_pages_mapped_until_it_is_released()
    {
        using BpfObject obj = Load(4, ringBytes: Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var rb = new RingBuffer(obj.GetMap("events"));
        string comm = TestEvent.CurrentThreadComm();

        FireAndTakeFirst(rb, 1);
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
        rb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rb.Wait(0));

        // Still readable: the unmapping waits for the release.
        List<byte[]> read = ReadAndRelease(segment, int.MaxValue);
        Assert.Equal(3, read.Count);
        Assert.Equal(TestEvent.Expected(1, TestEvent.KindReserved, comm), read[0]);
    }

    // Fires the programs and takes the first record of the wakeup (libbpf's copy): the rest is left to cut.
    private static void FireAndTakeFirst(RingBuffer rb, int triggers)
    {
        Trigger.Getppid(triggers);
        Assert.True(rb.Wait(1000));
        Assert.True(rb.TryTakeFirst(0, out _));
    }

    // Reads up to max records of the segment, then releases what was read (the rest goes to the next cut).
    private static List<byte[]> ReadAndRelease(RingSegment segment, int max)
    {
        var read = new List<byte[]>();
        RingSegment.Reader reader = segment.GetEnumerator();
        while (read.Count < max && reader.MoveNext())
        {
            read.Add(reader.Current.ToArray());
        }

        reader.Release();
        return read;
    }

    private static BpfObject Load(uint burst, int ringBytes)
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        open.SetGlobal("burst", burst);
        open.GetMap("events").MaxEntries = ringBytes;
        return open.Load();
    }
}
