using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BpfAgent.Tests;

/// <summary>
/// The running agent as an operator meets it (issue 14), on the real kernel: an address in use fails in one line
/// before any program is attached (and `check` finds it); an empty agent.json is quiet on scrapes; `/` links the
/// endpoints; stopping logs one summary line; JSON logs are one object a line; `pins` lists and removes pins and
/// refuses while an agent holds the pin root.
/// </summary>
public sealed partial class OperatorAgentTests
{
    private static readonly TimeSpan s_start = TimeSpan.FromSeconds(30);

    [KernelFact]
    public void An_address_in_use_fails_in_one_line_before_any_program_is_attached()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));

        using var agent = AgentProcess.StartWithConfig(config, null, $"--Agent:Listen=http://127.0.0.1:{port}");
        int? code = agent.WaitForExit(s_start);
        string output = agent.Output;
        Assert.True(code == 1, $"exit {code} (expected 1):\n{output}");
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string line = Assert.Single(lines);
        Assert.Contains($"cannot listen on http://127.0.0.1:{port}: the address is already in use", line, StringComparison.Ordinal);
        Assert.Contains("--Agent:Listen", line, StringComparison.Ordinal);
        Assert.Contains("BPF_AGENT_Agent__Listen", line, StringComparison.Ordinal);
        Assert.DoesNotContain("is up", output, StringComparison.Ordinal); // the set's load and attach line: never reached

        using var check = AgentProcess.Start(["check", "--config-dir", config.Directory, $"--Agent:Listen=http://127.0.0.1:{port}"]);
        int? checkCode = check.WaitForExit(s_start);
        Assert.True(checkCode == 1, $"check exit {checkCode} (expected 1):\n{check.Output}");
        Assert.Contains($"error: cannot listen on http://127.0.0.1:{port}: the address is already in use", check.Output, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task An_empty_agent_json_runs_quietly_serves_an_index_and_stops_with_a_summary()
    {
        using var config = new TestConfig("{}");
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config, null,
            $"--Agent:Listen={config.Url}", $"--Agent:PinRoot={config.PinRoot}", "--Agent:KeepPinsOnExit=false");
        Assert.True(await agent.WaitForHttpAsync(config.Url, s_start), agent.Output);
        Assert.True(await agent.WaitForOutputAsync("Program set exec is up", s_start), agent.Output);

        for (int i = 0; i < 3; i++)
        {
            using Process p = Process.Start("/bin/true")!;
            await p.WaitForExitAsync();
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string metrics = "";
        for (int i = 0; i < 50 && Scrape.Value(metrics, "exec_events_total", ("comm", "true")) is not 3.0; i++)
        {
            metrics = await Scrape.MetricsAsync(config.Url);
            await Task.Delay(100);
        }

        Assert.Equal(3.0, Scrape.Value(metrics, "exec_events_total", ("comm", "true")));
        using HttpResponseMessage index = await http.GetAsync(config.Url + "/");
        Assert.Equal(HttpStatusCode.OK, index.StatusCode);
        Assert.Equal("text/html", index.Content.Headers.ContentType?.MediaType);
        string html = await index.Content.ReadAsStringAsync();
        Assert.Contains("href=\"metrics\"", html, StringComparison.Ordinal);
        Assert.Contains("href=\"healthz\"", html, StringComparison.Ordinal);

        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));
        string output = agent.Output;
        Assert.DoesNotContain("Request starting", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Request finished", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Microsoft.AspNetCore", output, StringComparison.Ordinal);

        Match summary = Assert.Single(SummaryLine().Matches(output));
        Assert.True(long.Parse(summary.Groups["received"].Value, System.Globalization.CultureInfo.InvariantCulture) >= 3, summary.Value);
        Assert.Equal(summary.Groups["received"].Value, summary.Groups["delivered"].Value);
        Assert.Equal(("0", "0", "0"), (summary.Groups["kernel"].Value, summary.Groups["channel"].Value, summary.Groups["decode"].Value));
    }

    [KernelFact]
    public async Task Json_log_output_is_one_compact_json_object_a_line()
    {
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));
        // As under systemd: stdout is the journal, so each line starts with its syslog priority.
        using var agent = AgentProcess.StartWithConfig(config, new Dictionary<string, string> { ["JOURNAL_STREAM"] = "8:12345" }, "--Agent:LogFormat=json");
        Assert.True(await agent.WaitForOutputAsync("is up", s_start), agent.Output);
        using (Process p = Process.Start("/bin/true")!)
        {
            await p.WaitForExitAsync();
        }

        Assert.True(await agent.WaitForOutputAsync("/bin/true", s_start), agent.Output);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));

        string[] lines = agent.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length >= 3, agent.Output);
        foreach (string line in lines)
        {
            Match priority = Regex.Match(line, "^<([0-7])>");
            Assert.True(priority.Success, line);
            using JsonDocument doc = JsonDocument.Parse(line[priority.Length..]); // throws on a text line
            string level = doc.RootElement.TryGetProperty("@l", out JsonElement l) ? l.GetString()! : "Information";
            Assert.Equal(level switch { "Warning" => "4", "Error" => "3", "Fatal" => "2", "Debug" or "Verbose" => "7", _ => "6" }, priority.Groups[1].Value);
            Assert.True(doc.RootElement.TryGetProperty("@t", out _), line);
            Assert.True(doc.RootElement.TryGetProperty("@mt", out _), line);
            Assert.False(doc.RootElement.TryGetProperty("SyslogPriority", out _), line);
        }

        // The exec event once, as JSON with its fields as properties.
        string exec = Assert.Single(lines, l => l.Contains("\"filename\":\"/bin/true\"", StringComparison.Ordinal));
        Assert.Contains("\"comm\":\"true\"", exec, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task Pins_lists_a_sets_pins_refuses_to_remove_them_while_the_agent_runs_then_removes_them()
    {
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));
        string[] pinArgs = ["--config-dir", config.Directory];
        using (var agent = AgentProcess.StartWithConfig(config, null, "--Agent:KeepPinsOnExit=true"))
        {
            Assert.True(await agent.WaitForOutputAsync("is up", s_start), agent.Output);

            (int code, string list) = Run(["pins", "list", .. pinArgs]);
            Assert.True(code == 0, list);
            Assert.Contains($"pin root {config.PinRoot} (in use by a running agent)", list, StringComparison.Ordinal);
            Assert.Matches(@"(?m)^set exec \(.*programs\.d/exec\.json\)$", list);
            Assert.Matches(@"(?m)^  exec_events-[0-9a-f]{8} +map exec_events +schema [0-9a-f]{8} +RingBuffer +key 0 value 0 max_entries \d+ memlock [1-9]\d*$", list);

            (code, string refused) = Run(["pins", "remove", "exec", .. pinArgs]);
            Assert.True(code == 1, refused);
            Assert.Contains("refused: an agent holds the pin root", refused, StringComparison.Ordinal);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(config.PinRoot, "exec")));
            Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));
        }

        (int c, string after) = Run(["pins", .. pinArgs]);
        Assert.True(c == 0, after);
        Assert.Contains("(no agent running)", after, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^1 set\(s\), [1-9]\d* pin\(s\), [1-9]\d* bytes of map memory$", after);

        (c, string removed) = Run(["pins", "remove", "exec", .. pinArgs]);
        Assert.True(c == 0, removed);
        Assert.Contains("removed the pins of set exec", removed, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(config.PinRoot, "exec")));

        (c, string none) = Run(["pins", "remove", "exec", .. pinArgs]);
        Assert.True(c == 1, none);
        Assert.Contains("set exec has no pins", none, StringComparison.Ordinal);
        (c, string empty) = Run(["pins", "remove", "--all", .. pinArgs]);
        Assert.True(c == 0, empty);
        Assert.Contains("0 pin(s) removed", empty, StringComparison.Ordinal);
    }

    /// <summary>
    /// The shipped tcp_state set labels by the service's port and direction: five connections from five client
    /// ports to one listener make series for that one port only, each transition on its side (see the transitions
    /// in EndToEndTests).
    /// </summary>
    [KernelFact]
    public async Task Shipped_tcp_state_series_follow_the_service_port_not_client_ports()
    {
        const int Connections = 5;
        int port = TestConfig.FreePort();
        using var config = new TestConfig();
        string shipped = File.ReadAllText(Path.Combine(Paths.ShippedConfig, "programs.d", "tcp_state.json"));
        config.AddSet("tcp_state", ProgramSetJson.Edit(shipped, root =>
        {
            root["object"] = Paths.ProgramObject("tcp_state");
            root["parameters"]!["filter_port"] = port;
            root.Remove("$schema");
        }));
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
                client.Close();
                Assert.Equal(0, server.Receive(buffer));
                server.Close();
            }
        }
        finally
        {
            listener.Stop();
        }

        const int Expected = (10 * Connections) + 2;
        string text = await MetricSamples.SettleAsync(config.Url, t => MetricSamples.Sum(t, "tcp_state_changes_total") >= Expected, TimeSpan.FromSeconds(20));
        IReadOnlyList<MetricSample> series = MetricSamples.Select(text, "tcp_state_changes_total");
        string table = string.Join('\n', series.Select(x => $"{x.Label("state")} port={x.Label("port")} {x.Label("direction")}: {x.Value}"));
        Assert.True(series.All(x => x.Label("port") == $"{port}"), table);
        Assert.DoesNotContain(series, x => clientPorts.Any(p => x.Labels.Values.Contains($"{p}")));
        double At(string state, string direction) =>
            MetricSamples.Sum(text, "tcp_state_changes_total", ("state", "TCP_STATE_" + state), ("direction", "TCP_DIRECTION_" + direction));

        Assert.True(Expected == MetricSamples.Sum(text, "tcp_state_changes_total"), table);
        Assert.Equal(1, At("LISTEN", "LISTEN"));
        Assert.Equal(Connections, At("SYN_SENT", "OUTBOUND"));
        Assert.Equal(Connections, At("SYN_RECV", "INBOUND"));
        Assert.Equal(Connections, At("ESTABLISHED", "OUTBOUND"));
        Assert.Equal(Connections, At("ESTABLISHED", "INBOUND"));
        Assert.Equal(Connections, At("FIN_WAIT1", "OUTBOUND"));
        Assert.Equal(Connections, At("CLOSE_WAIT", "INBOUND"));
        Assert.Equal(Connections, At("CLOSE", "OUTBOUND"));
        Assert.Equal(Connections, At("CLOSE", "INBOUND"));
        Assert.Equal(1, At("CLOSE", "LISTEN"));
        Assert.Equal(0, At("ESTABLISHED", "UNKNOWN"));
        Assert.True(series.Count <= 12, table); // states x directions of one service, whatever the number of connections
    }

    private static (int Code, string Output) Run(string[] args)
    {
        using AgentProcess p = AgentProcess.Start(args);
        int? code = p.WaitForExit(s_start);
        return (code ?? -1, p.Output);
    }

    [GeneratedRegex(@"Stopped after [0-9.hms]+: exec received (?<received>\d+) delivered (?<delivered>\d+) dropped kernel (?<kernel>\d+) channel (?<channel>\d+) decode (?<decode>\d+)")]
    private static partial Regex SummaryLine();
}
