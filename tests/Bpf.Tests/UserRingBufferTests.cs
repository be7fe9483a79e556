using System.Buffers.Binary;
using System.Diagnostics;

namespace Bpf.Tests;

public sealed class UserRingBufferTests
{
    private const int MessageSize = 64;   // MESSAGE_SIZE in userring_test.bpf.c
    private const int RingBytes = 64 * 1024;
    private const int HeaderBytes = 8;     // BPF_RINGBUF_HDR_SZ; records are rounded up to 8 bytes

    [KernelFact(MinimumKernel = "6.1", Feature = "user ring buffers")]
    public void Messages_written_from_user_space_are_echoed_back_byte_exact_and_in_order()
    {
        const int Messages = 20;
        using BpfObject obj = TestObjects.OpenForThisProcess("userring_test").Load();
        using BpfLink link = obj.GetProgram("drain_requests").Attach();
        using var requests = new UserRingBuffer(obj.GetMap("requests"));
        var replies = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("replies"), replies);

        var sent = new List<byte[]>();
        for (int i = 0; i < Messages; i++)
        {
            UserRingBufferSample s = requests.Reserve(MessageSize);
            Assert.Equal(MessageSize, s.Length);
            byte[] message = Message(i);
            message.CopyTo(s.Data);
            requests.Submit(s);
            sent.Add(message);

            if (i == Messages / 2)
            {
                // Reserved, filled, then given back: the BPF side must never see it.
                UserRingBufferSample d = requests.Reserve(MessageSize);
                Message(0xdead).CopyTo(d.Data);
                requests.Discard(d);
            }
        }

        Assert.Equal(0UL, obj.ReadGlobal<ulong>("drained"));
        Trigger.Getppid();
        Assert.True(rb.Poll(1000) > 0);
        while (rb.Consume() > 0)
        {
        }

        Assert.Equal((ulong)Messages, obj.ReadGlobal<ulong>("drained"));
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("echo_failures"));
        Assert.Equal(sent, replies.Samples);

        // Drained once: another trigger echoes nothing more.
        Trigger.Getppid();
        Assert.Equal(0, rb.Poll(50));
        Assert.Equal(0, rb.Consume());
        Assert.Equal((ulong)Messages, obj.ReadGlobal<ulong>("drained"));
    }

    [KernelFact(MinimumKernel = "6.1", Feature = "user ring buffers")]
    public void Blocking_reserve_times_out_on_a_full_ring_and_succeeds_once_the_kernel_drains_it()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("userring_test").Load();
        using BpfLink link = obj.GetProgram("drain_requests").Attach();
        using var requests = new UserRingBuffer(obj.GetMap("requests"));
        var replies = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("replies"), replies);

        // Room now: a blocking reserve returns at once.
        var sw = Stopwatch.StartNew();
        Assert.True(requests.TryReserve(MessageSize, TimeSpan.FromSeconds(5), out UserRingBufferSample first));
        Assert.True(sw.ElapsedMilliseconds < 1000);
        Message(0).CopyTo(first.Data);
        requests.Submit(first);

        // Fill the ring completely with messages; then plug the last gap with a small record so that it is full
        // to the byte (a ring with any free byte stays writable for epoll, and a blocking reserve would spin).
        var sent = new List<byte[]> { Message(0) };
        while (requests.TryReserve(MessageSize, out UserRingBufferSample s))
        {
            byte[] m = Message(sent.Count);
            m.CopyTo(s.Data);
            requests.Submit(s);
            sent.Add(m);
        }

        int record = (MessageSize + HeaderBytes + 7) / 8 * 8;
        Assert.Equal(RingBytes / record, sent.Count);
        var fillers = new List<UserRingBufferSample>();
        while (requests.TryReserve(1, out UserRingBufferSample small))
        {
            fillers.Add(small);
        }

        Assert.Equal((RingBytes % record) / 16, fillers.Count);
        Assert.False(requests.TryReserve(MessageSize, out _));

        // Full and nothing drains: the blocking reserve gives up after its timeout.
        sw.Restart();
        bool reserved = requests.TryReserve(MessageSize, TimeSpan.FromMilliseconds(200), out UserRingBufferSample none);
        sw.Stop();
        Assert.False(reserved);
        Assert.Equal(0, none.Length);
        Assert.True(sw.ElapsedMilliseconds >= 150, $"gave up after {sw.ElapsedMilliseconds} ms");
        Assert.True(sw.ElapsedMilliseconds < 2000, $"gave up after {sw.ElapsedMilliseconds} ms");

        foreach (UserRingBufferSample f in fillers)
        {
            requests.Discard(f);
        }

        // Now the kernel drains it while we wait: the drain's wakeup ends the blocking reserve.
        using var drainer = Task.Run(async () =>
        {
            await Task.Delay(150);
            Trigger.Getppid();
        });
        sw.Restart();
        Assert.True(requests.TryReserve(MessageSize, TimeSpan.FromSeconds(10), out UserRingBufferSample late));
        sw.Stop();
        drainer.Wait();
        Assert.True(sw.ElapsedMilliseconds >= 100, $"reserved after {sw.ElapsedMilliseconds} ms, before any drain");
        Assert.True(sw.ElapsedMilliseconds < 5000, $"reserved after {sw.ElapsedMilliseconds} ms");
        byte[] last = Message(sent.Count);
        last.CopyTo(late.Data);
        requests.Submit(late);

        while (rb.Consume() > 0)
        {
        }

        Assert.Equal((ulong)sent.Count, obj.ReadGlobal<ulong>("drained"));
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("echo_failures"));
        Assert.Equal(sent, replies.Samples);

        Trigger.Getppid();
        while (rb.Consume() > 0)
        {
        }

        Assert.Equal(last, replies.Samples[^1]);
        Assert.Equal((ulong)sent.Count + 1, obj.ReadGlobal<ulong>("drained"));
    }

    [KernelFact(MinimumKernel = "6.1", Feature = "user ring buffers")]
    public void A_user_ring_buffer_checks_its_map_its_samples_and_its_lifetime()
    {
        using BpfObject obj = TestObjects.OpenForThisProcess("userring_test").Load();
        Assert.Throws<ArgumentException>(() => new UserRingBuffer(obj.GetMap("replies")));

        var requests = new UserRingBuffer(obj.GetMap("requests"));
        Assert.Throws<ArgumentOutOfRangeException>(() => requests.TryReserve(0, out _));
        BpfException tooBig = Assert.Throws<BpfException>(() => requests.TryReserve(RingBytes, out _));
        Assert.Equal(7, tooBig.Errno); // E2BIG: larger than the whole ring

        // A sample that was never reserved, or was already submitted, is refused instead of corrupting the ring.
        Assert.Throws<InvalidOperationException>(() => requests.Submit(default));
        Assert.Throws<InvalidOperationException>(() => requests.Discard(default));
        UserRingBufferSample s = requests.Reserve(MessageSize);
        requests.Submit(s);
        Assert.Throws<InvalidOperationException>(() => requests.Submit(s));
        Assert.Throws<InvalidOperationException>(() => requests.Discard(s));
        Assert.Throws<InvalidOperationException>(() => s.Data.Length);

        UserRingBufferSample pending = requests.Reserve(MessageSize);
        requests.Dispose();
        requests.Dispose();
        Assert.Throws<ObjectDisposedException>(() => requests.Reserve(MessageSize));
        Assert.Throws<ObjectDisposedException>(() => requests.TryReserve(MessageSize, TimeSpan.Zero, out _));
        Assert.Throws<ObjectDisposedException>(() => requests.Submit(pending));
        Assert.Throws<ObjectDisposedException>(() => pending.Data.Length); // its memory is unmapped
    }

    // 64 bytes that differ from message to message: the index, then a pattern derived from it.
    private static byte[] Message(int index)
    {
        var m = new byte[MessageSize];
        BinaryPrimitives.WriteInt32LittleEndian(m, index);
        for (int i = 4; i < MessageSize; i++)
        {
            m[i] = (byte)((index * 7) + (i * 13));
        }

        return m;
    }
}
