using System.Diagnostics;

namespace Bpf.Tests;

public sealed class RingBufferTests
{
    [KernelFact]
    public void Samples_from_a_syscall_tracepoint_arrive_byte_exact_in_order_and_match_the_kernel_counter()
    {
        const int Triggers = 25;
        const uint Burst = 8;
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        open.SetGlobal("burst", Burst);
        using BpfObject obj = open.Load();
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var collector = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("events"), collector);

        string comm = TestEvent.CurrentThreadComm();
        Trigger.Getppid(Triggers);
        while (rb.Consume() > 0)
        {
        }

        ulong produced = obj.ReadGlobal<ulong>("produced");
        Assert.Equal(Triggers * Burst, produced);
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("reserve_failures"));
        Assert.Equal((int)produced, collector.Samples.Count);
        for (int i = 0; i < collector.Samples.Count; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i, TestEvent.KindReserved, comm), collector.Samples[i]);
        }

        Assert.Equal((long)produced, rb.Rings[0].SamplesReceived);
        Assert.Equal((long)produced * TestEvent.Size, rb.Rings[0].BytesReceived);
    }

    [KernelFact]
    public void Records_that_wrap_the_end_of_a_one_page_ring_arrive_byte_exact_in_order_through_poll_and_consume()
    {
        // 56-byte records (8-byte header + 48) do not divide a 4096-byte ring, so lap after lap a record's body
        // starts at the very end, straddles it, or starts right after it: every case of reading the ring's pages.
        const int Triggers = 600;
        const uint Burst = 8;
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        open.SetGlobal("burst", Burst);
        open.GetMap("events").MaxEntries = Environment.SystemPageSize;
        using BpfObject obj = open.Load();
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var collector = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("events"), collector);

        string comm = TestEvent.CurrentThreadComm();
        int polled = 0;
        for (int i = 0; i < Triggers; i++)
        {
            Trigger.Getppid(1);
            if (i % 2 == 0)
            {
                polled += rb.Poll(1000); // flags 0: wakes; the callback hands over the first sample, the rest are read
            }

            DrainAll(rb);
        }

        ulong produced = obj.ReadGlobal<ulong>("produced");
        Assert.Equal(Triggers * Burst, produced);
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("reserve_failures"));
        Assert.True(polled >= Triggers / 2 * Burst, $"poll delivered {polled}");
        Assert.True(produced * (TestEvent.Size + 8) > 50UL * (ulong)Environment.SystemPageSize, "fewer than 50 laps of the ring");
        Assert.Equal((int)produced, collector.Samples.Count);
        for (int i = 0; i < collector.Samples.Count; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i, TestEvent.KindReserved, comm), collector.Samples[i]);
        }

        Assert.Equal(0L, rb.PendingBytes(0));
    }

    [KernelFact]
    public void Output_samples_arrive_byte_exact_and_the_discarded_reservation_never_does()
    {
        const int Triggers = 30;
        using BpfObject obj = LoadRingbufTest(burst: 1);
        using BpfLink link = obj.GetProgram("emit_output").Attach();
        var outputs = new SampleCollector();
        var events = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("events2"), outputs).Add(obj.GetMap("events"), events);

        string comm = TestEvent.CurrentThreadComm();
        Trigger.Getpgid(Triggers);
        int polled = rb.Poll(1000);
        Assert.True(polled > 0, "bpf_ringbuf_output with flags 0 wakes the poller");
        DrainAll(rb);

        Assert.Equal((ulong)Triggers, obj.ReadGlobal<ulong>("output_count"));
        Assert.Equal((ulong)Triggers, obj.ReadGlobal<ulong>("discarded"));
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("reserve_failures"));
        Assert.Equal(Triggers, outputs.Samples.Count);
        for (int i = 0; i < Triggers; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i, TestEvent.KindOutput, comm), outputs.Samples[i]);
        }

        // Each discarded record still occupied the ring (and advanced the producer); libbpf skips it.
        Assert.Empty(events.Samples);
        Assert.DoesNotContain(events.Samples, s => TestEvent.Kind(s) == TestEvent.KindDiscarded);
        Assert.Equal(0, rb.Rings[1].SamplesReceived);
        Assert.Equal(Triggers, rb.Rings[0].SamplesReceived);
        Assert.Equal((long)Triggers * TestEvent.Size, rb.Rings[0].BytesReceived);
    }

    [KernelFact]
    public void No_wakeup_samples_are_not_delivered_by_poll_alone_but_are_drained_by_consume()
    {
        const int Triggers = 10;
        const uint Burst = 5;
        using BpfObject obj = LoadRingbufTest(Burst);
        using BpfLink link = obj.GetProgram("emit_no_wakeup").Attach();
        var collector = new SampleCollector();

        // The ring is empty when it is added to epoll, so only a kernel wakeup could make it readable.
        using var rb = new RingBuffer(obj.GetMap("nowake"), collector);
        string comm = TestEvent.CurrentThreadComm();
        Trigger.Getsid(Triggers);
        ulong produced = obj.ReadGlobal<ulong>("nowake_count");
        Assert.Equal((ulong)(Triggers * Burst), produced);

        var sw = Stopwatch.StartNew();
        int polled = rb.Poll(200);
        sw.Stop();

        // Observed on kernel 6.18 / libbpf 1.1.2: epoll never fires, Poll times out and delivers nothing.
        Assert.Equal(0, polled);
        Assert.Empty(collector.Samples);
        Assert.True(sw.ElapsedMilliseconds >= 150, $"Poll returned after {sw.ElapsedMilliseconds} ms, before its timeout");

        int consumed = rb.Consume();
        Assert.Equal((int)produced, consumed);
        Assert.Equal((int)produced, collector.Samples.Count);
        for (int i = 0; i < collector.Samples.Count; i++)
        {
            Assert.Equal(TestEvent.Expected((ulong)i, TestEvent.KindNoWakeup, comm), collector.Samples[i]);
        }

        Assert.Equal(0, rb.Consume());
        Assert.Equal(0UL, obj.ReadGlobal<ulong>("reserve_failures"));
    }

    [KernelFact]
    public void Two_rings_on_one_ring_buffer_each_reach_their_own_consumer()
    {
        const int BurstTriggers = 7;
        const uint Burst = 3;
        const int OutputTriggers = 11;
        using BpfObject obj = LoadRingbufTest(Burst);
        using BpfLink burst = obj.GetProgram("emit_burst").Attach();
        using BpfLink output = obj.GetProgram("emit_output").Attach();
        var c1 = new SampleCollector();
        var c2 = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("events"), c1).Add(obj.GetMap("events2"), c2);

        Trigger.Getppid(BurstTriggers);
        Trigger.Getpgid(OutputTriggers);
        int total = DrainAll(rb);

        Assert.Equal(BurstTriggers * (int)Burst + OutputTriggers, total);
        Assert.Equal(2, rb.Rings.Count);
        Assert.Equal("events", rb.Rings[0].MapName);
        Assert.Equal("events2", rb.Rings[1].MapName);
        Assert.Equal(BurstTriggers * Burst, (ulong)rb.Rings[0].SamplesReceived);
        Assert.Equal(OutputTriggers, rb.Rings[1].SamplesReceived);
        Assert.Equal(BurstTriggers * Burst * TestEvent.Size, (ulong)rb.Rings[0].BytesReceived);
        Assert.Equal(OutputTriggers * TestEvent.Size, rb.Rings[1].BytesReceived);
        Assert.All(c1.Samples, s => Assert.Equal(TestEvent.KindReserved, TestEvent.Kind(s)));
        Assert.All(c2.Samples, s => Assert.Equal(TestEvent.KindOutput, TestEvent.Kind(s)));
        Assert.Equal(Enumerable.Range(0, BurstTriggers * (int)Burst).Select(i => (ulong)i), c1.Samples.Select(TestEvent.Seq));
        Assert.Equal(Enumerable.Range(0, OutputTriggers).Select(i => (ulong)i), c2.Samples.Select(TestEvent.Seq));
        Assert.Equal(obj.ReadGlobal<ulong>("produced"), (ulong)c1.Samples.Count);
        Assert.Equal(obj.ReadGlobal<ulong>("output_count"), (ulong)c2.Samples.Count);
    }

    [KernelFact]
    public void A_throwing_consumer_is_caught_and_counted_and_later_samples_still_arrive()
    {
        const uint Burst = 10;
        using BpfObject obj = LoadRingbufTest(Burst);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var collector = new SampleCollector { ThrowEvery = 3 };
        using var rb = new RingBuffer(obj.GetMap("events"), collector);

        Trigger.Getppid();
        Assert.Equal((int)Burst, DrainAll(rb));
        Assert.Equal((int)Burst, collector.Samples.Count);
        Assert.Equal(3, rb.Rings[0].ConsumerExceptions); // samples 3, 6 and 9
        Assert.Equal(Burst, (ulong)rb.Rings[0].SamplesReceived);
        Exception? last = rb.Rings[0].LastConsumerException;
        Assert.IsType<InvalidOperationException>(last);
        Assert.Equal("consumer failure on purpose", last.Message);
        Assert.False(rb.WasStopped);

        collector.ThrowEvery = 0;
        Trigger.Getppid(2);
        Assert.Equal(2 * (int)Burst, DrainAll(rb));
        Assert.Equal(3 * (int)Burst, collector.Samples.Count);
        Assert.Equal(3, rb.Rings[0].ConsumerExceptions);
        Assert.Equal(Enumerable.Range(0, 3 * (int)Burst).Select(i => (ulong)i), collector.Samples.Select(TestEvent.Seq));
    }

    [KernelFact]
    public void A_consumer_that_returns_false_stops_consume_and_poll_early_and_the_rest_comes_next_time()
    {
        const uint Burst = 20;
        using BpfObject obj = LoadRingbufTest(Burst);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var collector = new SampleCollector { StopAfter = 5 };
        using var rb = new RingBuffer(obj.GetMap("events"), collector);

        Trigger.Getppid();
        Assert.Equal(5, rb.Consume());
        Assert.True(rb.WasStopped);
        Assert.Equal(5, collector.Samples.Count);
        Assert.Equal(5, rb.Rings[0].SamplesReceived);

        collector.StopAfter = 0;
        Assert.Equal(15, rb.Consume());
        Assert.False(rb.WasStopped);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => (ulong)i), collector.Samples.Select(TestEvent.Seq));

        // Poll stops the same way; the ring stays readable (level-triggered epoll), so the next Poll goes on.
        collector.Samples.Clear();
        collector.StopAfter = 7;
        Trigger.Getppid();
        Assert.Equal(7, rb.Poll(1000));
        Assert.True(rb.WasStopped);
        collector.StopAfter = 0;
        Assert.Equal(13, rb.Poll(1000));
        Assert.False(rb.WasStopped);
        Assert.Equal(Enumerable.Range(20, 20).Select(i => (ulong)i), collector.Samples.Select(TestEvent.Seq));
        Assert.Equal(40, rb.Rings[0].SamplesReceived);
    }

    [KernelFact]
    public void EpollFd_is_valid_and_polling_an_empty_ring_with_timeout_zero_returns_zero()
    {
        using BpfObject obj = LoadRingbufTest(burst: 1);
        var collector = new SampleCollector();
        using var rb = new RingBuffer(obj.GetMap("events"), collector);

        int fd = rb.EpollFd;
        Assert.True(fd >= 0, $"EpollFd is {fd}");
        Assert.True(File.Exists($"/proc/self/fd/{fd}"));
        Assert.Equal("anon_inode:[eventpoll]", new FileInfo($"/proc/self/fd/{fd}").LinkTarget);
        Assert.Equal(0, rb.Poll(0));
        Assert.Equal(0, rb.Consume());
        Assert.Empty(collector.Samples);
        Assert.False(rb.WasStopped);
    }

    [KernelFact(MinimumKernel = "6.1", Feature = "user ring buffers, which its object has")]
    public void A_ring_buffer_over_a_map_that_is_not_a_ring_throws_ArgumentException()
    {
        using BpfObject obj = LoadRingbufTest(burst: 1);
        using BpfObject user = TestObjects.OpenForThisProcess("userring_test").Load();
        BpfMap bss = obj.Maps.Single(m => m.Name.EndsWith(".bss", StringComparison.Ordinal));

        ArgumentException e = Assert.Throws<ArgumentException>(() => new RingBuffer(bss, new SampleCollector()));
        Assert.Equal("map", e.ParamName);
        Assert.Throws<ArgumentException>(() => new RingBuffer(user.GetMap("requests"), new SampleCollector()));

        using var rb = new RingBuffer(obj.GetMap("events"), new SampleCollector());
        Assert.Throws<ArgumentException>(() => rb.Add(bss, new SampleCollector()));
        Assert.Single(rb.Rings);
        Assert.Throws<ArgumentNullException>(() => rb.Add(obj.GetMap("events2"), null!));
        Assert.Equal(0, rb.Poll(0));
    }

    [KernelFact]
    public void A_disposed_ring_buffer_throws_ObjectDisposedException()
    {
        using BpfObject obj = LoadRingbufTest(burst: 1);
        var rb = new RingBuffer(obj.GetMap("events"), new SampleCollector());
        rb.Dispose();
        rb.Dispose(); // idempotent

        Assert.Throws<ObjectDisposedException>(() => rb.Poll(0));
        Assert.Throws<ObjectDisposedException>(() => rb.Consume());
        Assert.Throws<ObjectDisposedException>(() => rb.EpollFd);
        Assert.Throws<ObjectDisposedException>(() => rb.Add(obj.GetMap("events2"), new SampleCollector()));
    }

    [KernelFact]
    public void A_consumer_cannot_reenter_the_ring_buffer_and_its_dispose_waits_for_the_call_to_end()
    {
        const uint Burst = 4;
        using BpfObject obj = LoadRingbufTest(Burst);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        RingBuffer? rb = null;
        int seen = 0;
        var consumer = new DelegateConsumer(_ =>
        {
            seen++;
            if (seen == 1)
            {
                rb!.Consume(); // re-entry: refused, caught, counted
            }

            if (seen == 2)
            {
                rb!.Dispose(); // deferred until Consume returns; libbpf keeps working meanwhile
            }

            return true;
        });
        rb = new RingBuffer(obj.GetMap("events"), consumer);

        Trigger.Getppid();
        Assert.Equal((int)Burst, rb.Consume());
        Assert.Equal((int)Burst, seen);
        Assert.Equal(1, rb.Rings[0].ConsumerExceptions);
        Assert.IsType<InvalidOperationException>(rb.Rings[0].LastConsumerException);
        Assert.Throws<ObjectDisposedException>(() => rb.Consume());
        Assert.Throws<ObjectDisposedException>(() => rb.EpollFd);
        rb.Dispose();
    }

    [KernelFact]
    public void Dispose_from_another_thread_during_a_blocked_poll_frees_nothing_until_the_poll_returns()
    {
        using BpfObject obj = LoadRingbufTest(burst: 3);
        using BpfLink link = obj.GetProgram("emit_burst").Attach();
        var collector = new SampleCollector();
        var rb = new RingBuffer(obj.GetMap("events"), collector);
        using var polling = new ManualResetEventSlim();
        int result = -1;
        var poller = new Thread(() =>
        {
            polling.Set();
            result = rb.Poll(1000);
        });
        poller.Start();
        polling.Wait();
        Thread.Sleep(200); // the poller is now blocked in epoll_wait
        var sw = Stopwatch.StartNew();
        rb.Dispose(); // must not free libbpf's ring_buffer (its mmaps, its epoll events) under the blocked poll
        Assert.True(sw.ElapsedMilliseconds < 100, "Dispose does not wait for the poll");

        // Data now wakes the poll, which reads the rings: they must still be mapped.
        Trigger.Getppid();
        poller.Join();
        Assert.Equal(3, result);
        Assert.Equal(3, collector.Samples.Count);
        Assert.Throws<ObjectDisposedException>(() => rb.Poll(0));
    }

    private static BpfObject LoadRingbufTest(uint burst)
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        open.SetGlobal("burst", burst);
        return open.Load();
    }

    private static int DrainAll(RingBuffer rb)
    {
        int total = 0;
        int n;
        while ((n = rb.Consume()) > 0)
        {
            total += n;
        }

        return total;
    }

    private sealed class DelegateConsumer(Func<byte[], bool> onSample) : IRingBufferConsumer
    {
        public bool OnSample(ReadOnlySpan<byte> sample) => onSample(sample.ToArray());
    }
}
