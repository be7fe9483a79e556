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
}
