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

    public static long CpuNanoseconds() => (long)(Environment.CpuUsage.TotalTime.Ticks * 100);
}
