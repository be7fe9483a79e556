using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// sd_notify as systemd would see it, through a NOTIFY_SOCKET the test owns: READY=1 only once every set is
/// loaded, WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 on SIGTERM, exit 0 within 5 s, and no BPF program
/// of the agent left in the kernel afterwards.
/// </summary>
public sealed class SystemdNotifyTests(ITestOutputHelper output)
{
    private static readonly string[] s_agentPrograms = ["handle_exec", "handle_inet_sock_set_state"];

    [KernelFact]
    public async Task Ready_follows_loading_watchdog_pings_stopping_follows_sigterm_and_nothing_stays_loaded()
    {
        using var notify = new NotifySocket();
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: Environment.ProcessId));
        config.AddSet("tcp_state", ProgramSetJson.TcpState(filterPort: TestConfig.FreePort()));

        using var agent = AgentProcess.StartWithConfig(config, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = notify.Path,
            ["WATCHDOG_USEC"] = "1000000",
        });

        Notification? ready = await notify.WaitForAsync("READY=1", TimeSpan.FromSeconds(20));
        Assert.True(ready is not null, $"no READY=1; received [{string.Join(", ", notify.Received)}]; agent output:\n{agent.Output}");

        // At READY the sets are loaded: the agent holds their programs, /healthz says every set is up.
        IReadOnlySet<uint> agentIds = KernelPrograms.HeldBy(agent.Pid);
        (HttpStatusCode status, JsonDocument health) = await AgentHealth.GetAsync(config.Url);
        using (health)
        {
            Assert.True(status == HttpStatusCode.OK, $"/healthz at READY: {(int)status} {health.RootElement}");
            var sets = health.RootElement.GetProperty("sets").EnumerateArray()
                .ToDictionary(s => s.GetProperty("name").GetString()!, s => s.GetProperty("status").GetString());
            Assert.Equal(new Dictionary<string, string?> { ["exec"] = "up", ["tcp_state"] = "up" }, sets);
        }

        IReadOnlyDictionary<uint, string> names = KernelPrograms.Names();
        Assert.True(agentIds.All(names.ContainsKey), "a program the agent holds is not in the kernel's list");
        Assert.Equal(s_agentPrograms.Order(StringComparer.Ordinal), agentIds.Select(id => names[id]).Order(StringComparer.Ordinal));
        Assert.Subset(KernelPrograms.Ids().ToHashSet(), agentIds.ToHashSet());

        // The log said so before READY went out (the console write precedes the notification; give the pipe a moment).
        Assert.True(await agent.WaitForOutputAsync("Program set exec is up", TimeSpan.FromSeconds(2)), agent.Output);
        Assert.True(await agent.WaitForOutputAsync("Program set tcp_state is up", TimeSpan.FromSeconds(2)), agent.Output);

        // WATCHDOG_USEC=1 s: a ping every 0.5 s while the poll thread runs.
        await Task.Delay(TimeSpan.FromSeconds(3));
        TimeSpan window = notify.Now;
        var pings = notify.Received.Where(n => n.State == "WATCHDOG=1" && n.At >= ready.At).ToList();
        Assert.True(pings.Count >= 2, $"{pings.Count} WATCHDOG=1 in {window - ready.At} after READY: [{string.Join(", ", notify.Received)}]");
        Assert.DoesNotContain(notify.Received, n => n.State == "STOPPING=1");
        Assert.Single(notify.Received, n => n.State == "READY=1");
        Assert.False(agent.HasExited);

        TimeSpan sigterm = notify.Now;
        var stopwatch = Stopwatch.StartNew();
        int? exit = agent.Terminate(TimeSpan.FromSeconds(5));

        TimeSpan exitedAfter = stopwatch.Elapsed;
        Assert.True(exit == 0, $"exit status {exit?.ToString() ?? "none within 5 s"}; output:\n{agent.Output}");
        // Only the living process can have sent it: a datagram is queued at send time, so waiting for it after
        // the exit is only waiting for this test's receive loop.
        Notification? stopping = await notify.WaitForAsync("STOPPING=1", TimeSpan.FromSeconds(1), since: sigterm);
        Assert.True(stopping is not null, $"no STOPPING=1 after SIGTERM: [{string.Join(", ", notify.Received)}]");

        // Nothing of the agent is left in the kernel. Closing the last fd frees a program after an RCU grace
        // period, so allow a short wait; pins were not kept (KeepPinsOnExit=false).
        var wait = Stopwatch.StartNew();
        List<uint> left = StillLoaded(agentIds);
        while (left.Count > 0 && wait.Elapsed < TimeSpan.FromSeconds(3))
        {
            await Task.Delay(20);
            left = StillLoaded(agentIds);
        }

        output.WriteLine($"READY at {ready.At.TotalMilliseconds:F0} ms; {pings.Count} WATCHDOG=1 in {(window - ready.At).TotalMilliseconds:F0} ms after READY; " +
            $"STOPPING {(stopping.At - sigterm).TotalMilliseconds:F0} ms and exit {exitedAfter.TotalMilliseconds:F0} ms after SIGTERM; " +
            $"programs gone {wait.Elapsed.TotalMilliseconds:F0} ms after exit");
        Assert.True(left.Count == 0, $"programs {string.Join(", ", left)} are still loaded {wait.Elapsed} after exit");
        Assert.True(!Directory.Exists(config.PinRoot) || !Directory.EnumerateFileSystemEntries(config.PinRoot, "*", SearchOption.AllDirectories).Any(),
            $"pins left under {config.PinRoot}: {string.Join(", ", Directory.Exists(config.PinRoot) ? Directory.EnumerateFileSystemEntries(config.PinRoot, "*", SearchOption.AllDirectories) : [])}");
    }

    private static List<uint> StillLoaded(IEnumerable<uint> ids)
    {
        IReadOnlySet<uint> now = KernelPrograms.Ids();
        return ids.Where(now.Contains).ToList();
    }
}
