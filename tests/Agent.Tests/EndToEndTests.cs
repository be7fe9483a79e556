using System.Net;
using System.Net.Sockets;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// The built agent, as a child process on a test config, consuming the shipped BPF objects: the test makes
/// known kernel events (execs of its own children, TCP connections on its own port), the objects' filter
/// parameters keep everyone else's events out, and /metrics and the log must show exactly those events.
/// </summary>
public sealed class EndToEndTests
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(10);

    [KernelFact]
    public async Task Every_exec_of_the_tests_own_children_is_counted_exactly_once_and_logged_with_its_decoded_fields()
    {
        const int Execs = 7;
        int self = Environment.ProcessId;
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: self));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        IReadOnlyList<int> pids = TestChildren.Run(TestChildren.True, Execs);

        string text = await SettleAsync(config.Url, t => Sum(t, "exec_events_total", ("comm", "true")) >= Execs, s_settle);
        Assert.Equal(Execs, Sum(text, "exec_events_total", ("comm", "true")));

        // filter_ppid keeps every other exec on the host out: the children are all there is.
        Assert.Single(Select(text, "exec_events_total"));
        Assert.Equal(Execs, Sum(text, "bpf_agent_ring_samples_received_total", ("set", "exec"), ("ring", "exec_events")));
        Assert.Equal(Execs, Sum(text, "bpf_agent_samples_delivered_total", ("set", "exec"), ("ring", "exec_events")));
        Assert.Equal(0, Sum(text, "bpf_agent_samples_dropped_total", ("set", "exec")));
        Assert.Equal(0, Sum(text, "bpf_agent_decode_errors_total", ("set", "exec")));
        Assert.Equal(1, Sum(text, "bpf_agent_program_set_up", ("set", "exec")));
        Assert.Equal(1, Sum(text, "bpf_agent_program_attached", ("set", "exec"), ("program", "handle_exec")));

        // The log line of each exec carries the decoded fields: file name and comm (strings from char arrays),
        // pid, ppid and uid (integers), rendered into the set's message template.
        uint uid = Tmds.Linux.LibC.getuid();
        foreach (int pid in pids)
        {
            string line = $"exec {TestChildren.True} as true pid={pid} ppid={self} uid={uid}";
            Assert.True(await agent.WaitForOutputAsync(line, TimeSpan.FromSeconds(5)), $"missing log line '{line}' in:\n{agent.Output}");
        }

        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }

    /// <summary>
    /// Each loopback connection, closed by the client first and then by the server once it has read EOF, makes
    /// exactly these inet_sock_set_state transitions on 6.18 (observed, and what tcp_input.c/tcp.c do):
    /// client  CLOSE->SYN_SENT (sport still 0), SYN_SENT->ESTABLISHED, ESTABLISHED->FIN_WAIT1, FIN_WAIT1->FIN_WAIT2,
    ///         FIN_WAIT2->CLOSE (TIME_WAIT is a timewait sock: tcp_time_wait() ends the full sock with tcp_done(),
    ///         which reports CLOSE, and no TIME_WAIT transition is ever reported);
    /// server  LISTEN->SYN_RECV, SYN_RECV->ESTABLISHED, ESTABLISHED->CLOSE_WAIT, CLOSE_WAIT->LAST_ACK, LAST_ACK->CLOSE.
    /// Plus the listener: CLOSE->LISTEN at Start and LISTEN->CLOSE at Stop. So 10 per connection + 2.
    /// </summary>
    [KernelFact]
    public Task Every_tcp_state_change_on_the_tests_own_port_is_counted_exactly_by_state_and_port() => TcpStateChangesAsync(variant: null, "btf");

    /// <summary>The variant for kernels without bpf_rdonly_cast (before 6.2) counts exactly the same.</summary>
    [KernelFact]
    public Task The_core_read_variant_of_tcp_state_counts_the_same_changes_exactly() => TcpStateChangesAsync("core_read", "core_read");

    private static async Task TcpStateChangesAsync(string? variant, string expectedVariant)
    {
        const int Connections = 5;
        int port = TestConfig.FreePort();
        using var config = new TestConfig();
        config.AddSet("tcp_state", ProgramSetJson.TcpState(filterPort: port, variant));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        var clientPorts = new List<int>();
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        try
        {
            byte[] buffer = new byte[16];
            for (int i = 0; i < Connections; i++)
            {
                using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                client.Connect(IPAddress.Loopback, port);
                clientPorts.Add(((IPEndPoint)client.LocalEndPoint!).Port);
                using Socket server = listener.AcceptSocket();
                client.Close();                      // FIN: client FIN_WAIT1 -> FIN_WAIT2, server CLOSE_WAIT
                Assert.Equal(0, server.Receive(buffer)); // EOF: the client's FIN has arrived
                server.Close();                      // FIN: server LAST_ACK -> CLOSE, client (TIME_WAIT) CLOSE
            }
        }
        finally
        {
            listener.Stop();
        }

        const int Expected = (10 * Connections) + 2;
        string text = await SettleAsync(config.Url, t => Sum(t, "tcp_state_changes_total") >= Expected, s_settle);
        string table = string.Join('\n', Select(text, "tcp_state_changes_total")
            .Select(s => $"{s.Label("state")} sport={s.Label("sport")} dport={s.Label("dport")}: {s.Value}"));
        double State(string state, params (string, string)[] more) => Sum(text, "tcp_state_changes_total", [("state", "TCP_STATE_" + state), .. more]);

        Assert.True(Expected == Sum(text, "tcp_state_changes_total"), $"expected {Expected} transitions, got:\n{table}");
        Assert.Equal(2 * Connections, State("ESTABLISHED"));
        Assert.Equal(Connections, State("SYN_SENT", ("sport", "0"), ("dport", $"{port}")));
        Assert.Equal(Connections, State("SYN_RECV", ("sport", $"{port}")));
        Assert.Equal(Connections, State("FIN_WAIT1"));
        Assert.Equal(Connections, State("FIN_WAIT2"));
        Assert.Equal(Connections, State("CLOSE_WAIT"));
        Assert.Equal(Connections, State("LAST_ACK"));
        Assert.Equal((2 * Connections) + 1, State("CLOSE"));
        Assert.Equal(1, State("LISTEN", ("sport", $"{port}"), ("dport", "0")));
        Assert.Equal(1, State("CLOSE", ("sport", $"{port}"), ("dport", "0")));
        Assert.Equal(0, State("TIME_WAIT"));

        // Both ends of each connection, by its ports: the labels are the decoded sport/dport fields.
        foreach (int p in clientPorts)
        {
            Assert.Equal(1, State("ESTABLISHED", ("sport", $"{p}"), ("dport", $"{port}")));
            Assert.Equal(1, State("ESTABLISHED", ("sport", $"{port}"), ("dport", $"{p}")));
            Assert.Equal(1, State("FIN_WAIT1", ("sport", $"{p}"), ("dport", $"{port}")));
            Assert.Equal(1, State("CLOSE_WAIT", ("sport", $"{port}"), ("dport", $"{p}")));
        }

        Assert.Equal(Expected, Sum(text, "bpf_agent_ring_samples_received_total", ("set", "tcp_state"), ("ring", "tcp_events")));
        Assert.Equal(1, Sum(text, "bpf_agent_set_variant", ("set", "tcp_state"), ("variant", expectedVariant)));
        Assert.Single(Select(text, "bpf_agent_set_variant"));
        Assert.Equal(0, Sum(text, "bpf_agent_samples_dropped_total", ("set", "tcp_state")));

        // The log decodes addresses (ipv4), ports and the BTF enum names of the states.
        int first = clientPorts[0];
        foreach (string line in new[]
                 {
                     $"tcp 127.0.0.1:{first} -> 127.0.0.1:{port} TCP_STATE_SYN_SENT -> TCP_STATE_ESTABLISHED",
                     $"tcp 127.0.0.1:{port} -> 127.0.0.1:{first} TCP_STATE_SYN_RECV -> TCP_STATE_ESTABLISHED",
                     $"tcp 127.0.0.1:{port} -> 127.0.0.1:{first} TCP_STATE_LAST_ACK -> TCP_STATE_CLOSE",
                 })
        {
            Assert.True(await agent.WaitForOutputAsync(line, TimeSpan.FromSeconds(5)), $"missing log line '{line}' in:\n{agent.Output}");
        }

        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }
}
