using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Tmds.Linux;

namespace BpfAgent.Bench;

internal sealed record StartStopResult(double ReadyMs, double StopMs, IReadOnlyList<(double Ready, double Stop, int ExitCode)> Runs, string? Problem);

/// <summary>
/// The real agent binary with the shipped default config: process start to READY=1 on a NOTIFY_SOCKET this
/// process owns, then SIGTERM to exit. Only the listen address (a free loopback port) and the pin root (its
/// own, so a running agent's instance lock and pins are not touched) are overridden.
/// </summary>
internal static class StartStopScenario
{
    public static StartStopResult Run(BenchSettings s, Action<string> log)
    {
        var runs = new List<(double, double, int)>();
        string? problem = null;
        for (int i = 0; i < s.StartStopReps; i++)
        {
            try
            {
                (double ready, double stop, int exit) = Once(s);
                runs.Add((ready, stop, exit));
                log($"  start/stop run {i + 1}: READY=1 after {ready:F0} ms, exit {stop:F0} ms after SIGTERM (status {exit})");
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException or SocketException)
            {
                problem = e.Message;
                log($"  start/stop run {i + 1} failed: {e.Message}");
            }
        }

        return new StartStopResult(ThroughputScenarios.Median([.. runs.Select(r => r.Item1)]),
            ThroughputScenarios.Median([.. runs.Select(r => r.Item2)]), runs, problem);
    }

    private static unsafe (double ReadyMs, double StopMs, int ExitCode) Once(BenchSettings s)
    {
        string socketPath = Path.Combine(Path.GetTempPath(), $"bpf-agent-bench-{Environment.ProcessId}.sock");
        File.Delete(socketPath);
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        string pinRoot = "/sys/fs/bpf/bpf-agent-bench";
        try
        {
            var psi = new ProcessStartInfo(BenchSettings.Dotnet)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (string arg in new[]
            {
                s.AgentDll, "--config-dir", s.ConfigDirectory,
                $"--Agent:Listen=http://127.0.0.1:{FreePort()}", $"--Agent:PinRoot={pinRoot}", "--Agent:KeepPinsOnExit=false",
            })
            {
                psi.ArgumentList.Add(arg);
            }

            psi.Environment["NOTIFY_SOCKET"] = socketPath;
            psi.Environment.Remove("WATCHDOG_USEC");
            var output = new StringBuilder();
            long t0 = Stopwatch.GetTimestamp();
            using Process p = Process.Start(psi) ?? throw new InvalidOperationException("the agent did not start");
            p.OutputDataReceived += (_, e) => Append(output, e.Data);
            p.ErrorDataReceived += (_, e) => Append(output, e.Data);
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();

            byte[] buffer = new byte[4096];
            double ready = double.NaN;
            while (double.IsNaN(ready))
            {
                Task<int> receive = notify.ReceiveAsync(buffer, SocketFlags.None);
                while (!receive.Wait(100))
                {
                    if (p.HasExited || Stopwatch.GetElapsedTime(t0) > TimeSpan.FromSeconds(60))
                    {
                        if (!p.HasExited)
                        {
                            p.Kill();
                        }

                        throw new InvalidOperationException($"the agent sent no READY=1 (exited: {p.HasExited}). Output: {Tail(output)}");
                    }
                }

                string message = Encoding.UTF8.GetString(buffer, 0, receive.Result);
                if (message.Split('\n').Contains("READY=1"))
                {
                    ready = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                }
            }

            long t1 = Stopwatch.GetTimestamp();
            if (LibC.kill(p.Id, LibC.SIGTERM) != 0)
            {
                throw new InvalidOperationException($"kill failed: errno {LibC.errno}");
            }

            if (!p.WaitForExit(30_000))
            {
                p.Kill();
                throw new InvalidOperationException($"the agent did not exit within 30 s of SIGTERM. Output: {Tail(output)}");
            }

            double stop = Stopwatch.GetElapsedTime(t1).TotalMilliseconds;
            return (ready, stop, p.ExitCode);
        }
        finally
        {
            File.Delete(socketPath);
        }
    }

    private static void Append(StringBuilder sb, string? line)
    {
        if (line is not null)
        {
            lock (sb)
            {
                sb.AppendLine(line);
            }
        }
    }

    private static string Tail(StringBuilder sb)
    {
        lock (sb)
        {
            string s = sb.ToString();
            return s.Length > 2000 ? s[^2000..] : s;
        }
    }

    internal static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
