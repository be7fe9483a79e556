using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace BpfAgent.Metrics;

/// <summary>
/// The standard process metrics under the names Prometheus client libraries give them (process_cpu_seconds_total,
/// process_resident_memory_bytes, process_open_fds, process_max_fds, process_start_time_seconds), read at scrape
/// from /proc/self.
/// </summary>
public sealed class ProcessMetrics : IDisposable
{
    public const string MeterName = "bpf_agent.process";

    private readonly Meter _meter = new(MeterName);

    public ProcessMetrics()
    {
        double start = StartTimeSeconds();
        _meter.CreateObservableCounter("process_cpu_seconds", CpuSeconds, "s", "Total user and system CPU time spent in seconds.");
        _meter.CreateObservableGauge("process_resident_memory_bytes", () => ResidentBytes(), "By", "Resident memory size in bytes.");
        _meter.CreateObservableGauge("process_virtual_memory_bytes", VirtualBytes, "By", "Virtual memory size in bytes.");
        _meter.CreateObservableGauge("process_open_fds", () => (long)OpenFds(), description: "Number of open file descriptors.");
        _meter.CreateObservableGauge("process_max_fds", () => MaxFds(), description: "Maximum number of open file descriptors.");
        _meter.CreateObservableGauge("process_start_time_seconds", () => start, "s", "Start time of the process since unix epoch in seconds.");
    }

    private static double CpuSeconds()
    {
        using Process p = Process.GetCurrentProcess();
        return p.TotalProcessorTime.TotalSeconds;
    }

    private static long ResidentBytes() => StatusKilobytes("VmRSS:") * 1024;

    private static long VirtualBytes() => StatusKilobytes("VmSize:") * 1024;

    private static long StatusKilobytes(string key)
    {
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith(key, StringComparison.Ordinal))
            {
                string[] parts = line[key.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return parts.Length > 0 && long.TryParse(parts[0], out long kb) ? kb : 0;
            }
        }

        return 0;
    }

    private static int OpenFds()
    {
        try
        {
            return Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() - 1; // less the one enumerating
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long MaxFds()
    {
        foreach (string line in File.ReadLines("/proc/self/limits"))
        {
            if (line.StartsWith("Max open files", StringComparison.Ordinal))
            {
                string[] parts = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length > 0 && long.TryParse(parts[0], out long soft) ? soft : 0;
            }
        }

        return 0;
    }

    // Boot time plus the process's start in clock ticks since boot (field 22 of /proc/self/stat).
    private static double StartTimeSeconds()
    {
        try
        {
            string stat = File.ReadAllText("/proc/self/stat");
            string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long startTicks = long.Parse(fields[19], System.Globalization.CultureInfo.InvariantCulture);
            long bootTime = File.ReadLines("/proc/stat").Where(l => l.StartsWith("btime ", StringComparison.Ordinal))
                .Select(l => long.Parse(l[6..], System.Globalization.CultureInfo.InvariantCulture)).First();
            return bootTime + startTicks / 100.0; // USER_HZ is 100 on Linux
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException or IndexOutOfRangeException)
        {
            using Process p = Process.GetCurrentProcess();
            return new DateTimeOffset(p.StartTime.ToUniversalTime()).ToUnixTimeMilliseconds() / 1000.0;
        }
    }

    public void Dispose() => _meter.Dispose();
}
