using System.Globalization;

namespace BpfAgent.Bench;

/// <summary>Figures of this process: memory from /proc/self/status, CPU time, managed allocations.</summary>
internal static class ProcessStatus
{
    /// <summary>A field of /proc/self/status in kB (VmRSS, VmHWM...), or -1.</summary>
    public static long Kb(string key)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal) && line.Length > key.Length && line[key.Length] == ':')
            {
                string v = line[(key.Length + 1)..].Trim();
                int space = v.IndexOf(' ', StringComparison.Ordinal);
                return long.Parse(space < 0 ? v : v[..space], CultureInfo.InvariantCulture);
            }
        }

        return -1;
    }

    /// <summary>
    /// CPU time of every thread of the process so far, exact (CLOCK_PROCESS_CPUTIME_ID, as the native consumer reads
    /// it). Not getrusage, which Environment.CpuUsage reads: Linux scales its user and system times from ticks and
    /// keeps them monotonic, so over a 25 ms drain it was off by up to 5x (148 ms reported, 25 ms by the threads' own
    /// schedstat).
    /// </summary>
    public static long CpuNanoseconds()
    {
        if (clock_gettime(ClockProcessCpuTime, out Timespec ts) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
        }

        return (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
    }

    private const int ClockProcessCpuTime = 2;

    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int clock_gettime(int clock, out Timespec ts);
}
