using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// The agent as Prometheus sees it: a real Prometheus server (Debian's `prometheus`) scrapes it and answers
/// queries with the agent's series, and `promtool check metrics` finds nothing to complain about in a scrape.
/// </summary>
public sealed class PrometheusTests
{
    [KernelFact]
    public async Task A_real_Prometheus_scrapes_the_agent_and_its_query_api_returns_the_sets_and_the_tests_execs()
    {
        const int Execs = 3;
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: Environment.ProcessId));
        config.AddSet("syscall_latency", ProgramSetJson.SyscallLatency(filterTgid: Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}");

        TestChildren.Run(TestChildren.True, Execs);

        string job = PrometheusServer.Job;
        var execs = await prometheus.QueryUntilAsync($"exec_events_total{{job=\"{job}\",comm=\"true\"}}",
            r => r.Count == 1 && r[0].Value >= Execs, TimeSpan.FromSeconds(20));
        Assert.True(execs.Count == 1, $"exec_events_total for comm=true: {execs.Count} series; Prometheus log:\n{prometheus.Log}");
        Assert.Equal(Execs, execs[0].Value);
        Assert.Equal($"127.0.0.1:{config.Port}", execs[0].Labels["instance"]);

        // The scrape itself is healthy: the target is up and Prometheus parsed it without error.
        var up = await prometheus.QueryAsync($"up{{job=\"{job}\"}}");
        Assert.Equal(1, Assert.Single(up).Value);
        System.Text.Json.JsonElement target = Assert.Single((await prometheus.ApiAsync("targets?state=active")).GetProperty("activeTargets").EnumerateArray());
        Assert.Equal("up", target.GetProperty("health").GetString());
        Assert.Equal("", target.GetProperty("lastError").GetString());

        // Self-metrics, one series per set.
        var setUp = await prometheus.QueryAsync($"bpf_agent_program_set_up{{job=\"{job}\"}}");
        Assert.Equal(
            [("exec", 1.0), ("syscall_latency", 1.0)],
            setUp.Select(s => (s.Labels["set"], s.Value)).Order());
        var setUpExec = await prometheus.QueryAsync($"bpf_agent_program_set_up{{job=\"{job}\",set=\"exec\"}} == 1");
        Assert.Single(setUpExec);

        // Prometheus itself is a child of the test process too: its exec is the only other one the set sees.
        var prometheusExec = await prometheus.QueryAsync($"exec_events_total{{job=\"{job}\",comm=\"prometheus\"}}");
        Assert.Equal(1, Assert.Single(prometheusExec).Value);
        var received = await prometheus.QueryAsync($"bpf_agent_ring_samples_received_total{{job=\"{job}\",set=\"exec\"}}");
        Assert.Equal(Execs + 1, Assert.Single(received).Value);

        // A histogram: the test process's own syscalls, so there is at least one observation.
        var count = await prometheus.QueryUntilAsync($"sum(syscall_latency_seconds_count{{job=\"{job}\"}})",
            r => r.Count == 1 && r[0].Value > 0, TimeSpan.FromSeconds(10));
        Assert.True(Assert.Single(count).Value > 0);
        var inf = await prometheus.QueryAsync($"sum(syscall_latency_seconds_bucket{{job=\"{job}\",le=\"+Inf\"}}) - sum(syscall_latency_seconds_count{{job=\"{job}\"}})");
        Assert.Equal(0, Assert.Single(inf).Value);
    }

    [KernelFact]
    public async Task Promtool_check_metrics_finds_no_problem_in_a_scrape_with_every_kind_of_series()
    {
        int port = TestConfig.FreePort();
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: Environment.ProcessId));
        config.AddSet("tcp_state", ProgramSetJson.TcpState(filterPort: port));
        config.AddSet("syscall_latency", ProgramSetJson.SyscallLatency(filterTgid: Environment.ProcessId));
        config.AddSet("rejected", ProgramSetJson.Rejected()); // a failed set's series are linted too
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitAsync(agent, config.Url);

        TestChildren.Run(TestChildren.True, 1);
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        using (var client = new TcpClient())
        {
            client.Connect(IPAddress.Loopback, port);
            using Socket server = listener.AcceptSocket();
        }

        listener.Stop();
        string text = await SettleAsync(config.Url,
            t => Sum(t, "exec_events_total") >= 1 && Sum(t, "tcp_state_changes_total") >= 1 && Sum(t, "syscall_latency_seconds_count") >= 1,
            TimeSpan.FromSeconds(10), TimeSpan.Zero);
        foreach (string name in new[] { "exec_events_total", "tcp_state_changes_total", "syscall_latency_seconds_bucket", "bpf_agent_program_set_up", "bpf_agent_build_info" })
        {
            Assert.True(Select(text, name).Count > 0, $"the scrape has no {name}:\n{text}");
        }

        string problems = await PromtoolAsync(text);
        Assert.True(problems.Length == 0, $"promtool check metrics:\n{problems}");
    }

    /// <summary>What `promtool check metrics` says of <paramref name="text"/> (empty: nothing), with its exit status.</summary>
    public static async Task<string> PromtoolAsync(string text)
    {
        string promtool = PrometheusServer.FindBinary("promtool")
            ?? throw new InvalidOperationException("promtool is not installed; `make test` installs it (Debian package prometheus)");
        var psi = new ProcessStartInfo(promtool)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add("check");
        psi.ArgumentList.Add("metrics");
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(20)), "promtool did not finish");
        string problems = (await stdout) + (await stderr);
        return p.ExitCode == 0 ? problems : $"exit {p.ExitCode}: {problems}";
    }
}
