namespace Bpf.Tests;

public sealed class LeakTests
{
    private const int Cycles = 100;

    [KernelFact]
    public void Open_load_attach_poll_dispose_cycles_leave_no_fd_and_no_kernel_program_behind()
    {
        Cycle(); // warm-up: lazy statics, libbpf's one-time feature probes, JIT
        Settle();
        int baselineFds = OpenFdCount();
        var ourPrograms = new HashSet<uint>();

        for (int i = 0; i < Cycles; i++)
        {
            ourPrograms.Add(Cycle());
        }

        Settle();
        Assert.Equal(Cycles, ourPrograms.Count); // each cycle loaded a program of its own

        // The kernel list is global (other processes load programs too): check that none of ours is left.
        IReadOnlyList<uint> loaded = BpfSystem.GetLoadedProgramIds();
        Assert.Empty(ourPrograms.Intersect(loaded));
        Assert.Equal(baselineFds, OpenFdCount());
    }

    [KernelFact(MinimumKernel = "6.1", Feature = "user ring buffers, which its object has")]
    public void Ring_buffers_left_to_the_garbage_collector_release_their_fds()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("userring_test");
        using BpfObject obj = open.Load();
        BpfMap replies = obj.GetMap("replies");
        BpfMap requests = obj.GetMap("requests");
        Abandon(replies, requests); // warm-up
        Settle();
        int baselineFds = OpenFdCount();

        for (int i = 0; i < 20; i++)
        {
            Abandon(replies, requests);
        }

        Settle();
        Assert.Equal(baselineFds, OpenFdCount());
    }

    // One full life: returns the kernel id of the program it loaded.
    private static uint Cycle()
    {
        using OpenBpfObject open = TestObjects.OpenForThisProcess("ringbuf_test");
        open.SetGlobal("burst", 2u);
        using BpfObject obj = open.Load();
        BpfProgram program = obj.GetProgram("emit_burst");
        uint id = program.GetInfo().Id;
        var collector = new SampleCollector();
        using (BpfLink link = program.Attach())
        using (var rb = new RingBuffer(obj.GetMap("events"), collector).Add(obj.GetMap("nowake"), new SampleCollector()))
        {
            Trigger.Getppid();
            Assert.Equal(2, rb.Poll(1000));
        }

        Assert.Equal(2, collector.Samples.Count);
        return id;
    }

    // Ring buffers nobody disposes: each holds an epoll fd until its finalizer runs.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static void Abandon(BpfMap replies, BpfMap requests)
    {
        var rb = new RingBuffer(replies, new SampleCollector());
        Assert.True(rb.EpollFd >= 0);
        var user = new UserRingBuffer(requests);
        Assert.True(user.TryReserve(8, out _));
    }

    private static void Settle()
    {
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }
    }

    private static int OpenFdCount() => Directory.GetFiles("/proc/self/fd").Length;
}
