using System.Diagnostics;
using System.Net.Http;
using System.Runtime.InteropServices;

namespace BpfAgent.Bench;

internal sealed record AgentCpuResult(string Version, double EventsPerSecond, double Events, double AgentCpuMs, double IdleCpuMs, double NsPerEvent, string? Problem);

/// <summary>
/// Agent CPU per event of the two shipped syscall_latency versions at one fixed event rate: the real agent with only
/// that set, filtered to this process, while a thread here makes getppid calls at a steady rate for a while; the
/// agent's CPU time (utime + stime from /proc) over the window, against the same window with no load.
/// </summary>
internal static partial class AgentCpuScenario
{
    private const int Rate = 100_000;
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(5);

    public static List<AgentCpuResult> Run(BenchSettings s, Action<string> log)
    {
        var results = new List<AgentCpuResult>();
        foreach ((string version, string file) in new[] { ("ring", "examples/syscall_latency_ring.json"), ("map", "programs.d/syscall_latency.json") })
        {
            try
            {
                results.Add(Once(s, version, Path.Combine(s.ConfigDirectory, file), log));
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException or IOException or HttpRequestException)
            {
                results.Add(new AgentCpuResult(version, Rate, 0, double.NaN, double.NaN, double.NaN, e.Message));
            }
        }

        return results;
    }

    private const string PinRoot = "/sys/fs/bpf/bpf-agent-bench-cpu";

    private static AgentCpuResult Once(BenchSettings s, string version, string setFile, Action<string> log)
    {
        // The agent is killed after each run, so its pins stay; the other version's map of the same name (a hash
        // in one, task storage in the other) would then refuse to load. Each run starts from no pins.
        RemovePins();
        string dir = Directory.CreateTempSubdirectory("bpf-agent-bench-cpu-").FullName;
        int port = StartStopScenario.FreePort();
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "programs.d"));
            File.WriteAllText(Path.Combine(dir, "agent.json"), $$"""
                { "Agent": { "Listen": "http://127.0.0.1:{{port}}", "PinRoot": "{{PinRoot}}", "KeepPinsOnExit": false, "WatchConfigDirectory": false } }
                """);
            string json = File.ReadAllText(setFile)
                .Replace("\"../build/", $"\"{s.Root}/build/", StringComparison.Ordinal)
                .Replace("\"filter_tgid\": 0", $"\"filter_tgid\": {Environment.ProcessId}", StringComparison.Ordinal);
            File.WriteAllText(Path.Combine(dir, "programs.d", "syscall_latency.json"), json);

            var psi = new ProcessStartInfo(BenchSettings.Dotnet) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (string arg in new[] { s.AgentDll, "--config-dir", dir })
            {
                psi.ArgumentList.Add(arg);
            }

            using Process agent = Process.Start(psi) ?? throw new InvalidOperationException("the agent did not start");
            agent.OutputDataReceived += (_, _) => { };
            agent.ErrorDataReceived += (_, _) => { };
            agent.BeginOutputReadLine();
            agent.BeginErrorReadLine();
            try
            {
                using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
                var ready = Stopwatch.StartNew();
                while (true)
                {
                    try
                    {
                        if (http.GetAsync($"http://127.0.0.1:{port}/healthz").Result.IsSuccessStatusCode)
                        {
                            break;
                        }
                    }
                    catch (AggregateException) when (ready.Elapsed < TimeSpan.FromSeconds(30))
                    {
                    }

                    if (ready.Elapsed > TimeSpan.FromSeconds(30) || agent.HasExited)
                    {
                        throw new TimeoutException($"{version}: the agent did not become healthy");
                    }

                    Thread.Sleep(100);
                }

                Thread.Sleep(2000); // past the start's own work
                double idle = Window(agent.Id, null);
                long events = 0;
                double busy = Window(agent.Id, () => events = Load());
                _ = http.GetStringAsync($"http://127.0.0.1:{port}/metrics").Result; // a scrape, as Prometheus would make
                double perEvent = (busy - idle) * 1e6 / events;
                log($"agent cpu {version}: {events} getppid in {s_window.TotalSeconds:F0} s; agent CPU {busy:F1} ms (idle {idle:F1} ms): {perEvent:F1} ns/event");
                return new AgentCpuResult(version, Rate, events, busy, idle, perEvent, null);
            }
            finally
            {
                agent.Kill();
                agent.WaitForExit();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
            RemovePins();
        }
    }

    private static void RemovePins()
    {
        if (Directory.Exists(PinRoot))
        {
            Directory.Delete(PinRoot, recursive: true);
        }
    }

    // The agent's CPU milliseconds over one window, with the load (if any) running on this thread meanwhile.
    private static double Window(int pid, Action? load)
    {
        double before = CpuMs(pid);
        if (load is null)
        {
            Thread.Sleep(s_window);
        }
        else
        {
            load();
        }

        Thread.Sleep(300); // the poller's last partial batch and the worker's last samples
        return CpuMs(pid) - before;
    }

    // getppid at Rate per second for the window, in 1 ms steps.
    private static long Load()
    {
        long events = 0;
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < s_window)
        {
            long due = (long)(sw.Elapsed.TotalSeconds * Rate);
            while (events < due)
            {
                _ = getppid();
                events++;
            }

            Thread.Sleep(1);
        }

        return events;
    }

    private static double CpuMs(int pid)
    {
        string stat = File.ReadAllText($"/proc/{pid}/stat");
        string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return (long.Parse(f[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(f[12], System.Globalization.CultureInfo.InvariantCulture)) * 10.0; // USER_HZ 100
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int getppid();
}
