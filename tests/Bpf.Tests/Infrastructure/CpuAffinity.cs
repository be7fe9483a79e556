using System.Runtime.InteropServices;

namespace Bpf.Tests;

/// <summary>Runs work on a thread pinned to one CPU, so per-CPU map slots and run-queue contention are known.</summary>
public static unsafe partial class CpuAffinity
{
    public static void Run(int cpu, Action work)
    {
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                Pin(cpu);
                work();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        if (failure is not null)
        {
            throw new InvalidOperationException($"work on CPU {cpu} failed: {failure.Message}", failure);
        }
    }

    /// <summary>Pins the calling thread (pid 0 = this thread) to <paramref name="cpu"/>.</summary>
    public static void Pin(int cpu)
    {
        ulong* mask = stackalloc ulong[16];
        new Span<ulong>(mask, 16).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        if (sched_setaffinity(0, 16 * sizeof(ulong), mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity({cpu}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc.so.6", SetLastError = true)]
    private static partial int sched_setaffinity(int pid, nuint size, ulong* mask);
}
