namespace Bpf.Tests;

/// <summary>
/// Reading a ring in segments: records cut on one thread and read in place on another, in order, byte-exact; the
/// kernel gets the space back only on release; libbpf is not asked to wait while a segment is out.
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

            // Cut 100 bytes at a time (one record each) and read every segment on another thread before releasing it.
            while (rb.TryCut(0, 100, out RingSegment segment))
            {
                Assert.Equal(0, segment.Ring);
                Assert.False(rb.AllReleased(0));
                List<byte[]> read = Task.Run(() => ReadAll(segment)).Result;
                Assert.Equal(segment.Count, read.Count);
                Assert.Equal(segment.Count * (long)TestEvent.Size, segment.Bytes);
                seen.AddRange(read);
                segment.Release();
            }

            Assert.True(rb.AllReleased(0));
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

        Trigger.Getppid(1);
        Assert.True(rb.Wait(1000));
        Assert.True(rb.TryTakeFirst(0, out _));
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
        Assert.Equal((int)Burst - 1, segment.Count);

        // Cut but not released: the kernel still counts the bytes as unconsumed, and Wait returns at once.
        Assert.Equal((long)(Burst - 1) * 56, rb.PendingBytes(0));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(rb.Wait(2000));
        Assert.True(watch.ElapsedMilliseconds < 1000, $"Wait blocked {watch.ElapsedMilliseconds} ms with a segment out");
        Assert.False(rb.TryTakeFirst(0, out _)); // libbpf was not called: no record was taken out of the ring

        segment.Release();
        Assert.Equal(0, rb.PendingBytes(0));
        Assert.False(rb.Wait(50)); // nothing left: a real wait that times out
    }

    [KernelFact]
    public void Dispose_with_a_segment_out_keeps_the_pages_mapped_until_it_is_released()
    {
        using BpfObject obj = Load(4, ringBytes: Environment.SystemPageSize);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var rb = new RingBuffer(obj.GetMap("events"));
        string comm = TestEvent.CurrentThreadComm();

        Trigger.Getppid(1);
        Assert.True(rb.Wait(1000));
        Assert.True(rb.TryTakeFirst(0, out _));
        Assert.True(rb.TryCut(0, 1 << 20, out RingSegment segment));
        rb.Dispose();
        Assert.Throws<ObjectDisposedException>(() => rb.Wait(0));

        // Still readable: the unmapping waits for the release.
        List<byte[]> read = ReadAll(segment);
        Assert.Equal(3, read.Count);
        Assert.Equal(TestEvent.Expected(1, TestEvent.KindReserved, comm), read[0]);
        segment.Release();
    }

    private static List<byte[]> ReadAll(RingSegment segment)
    {
        var read = new List<byte[]>();
        foreach (ReadOnlySpan<byte> record in segment)
        {
            read.Add(record.ToArray());
        }

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
