using System.Net;
using System.Net.Sockets;
using BpfAgent.Configuration;

namespace BpfAgent.Tests;

/// <summary>
/// Configuration as a new operator meets it (issue 14): agent.json is optional and an empty one means the shipped
/// defaults; names that merge in the scrape, near-miss keys, a wrong type, a histogram without bounds and bad JSON
/// each get one error (or warning) that says the fix; the listen address is checked in form and by binding it.
/// </summary>
public sealed class OperatorConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-operator-").FullName;

    public OperatorConfigTests() => Directory.CreateDirectory(Path.Combine(_dir, "programs.d"));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Agent_json_is_optional_and_an_empty_one_means_the_shipped_defaults()
    {
        AgentConfiguration none = AgentConfiguration.Load(_dir, []);
        Assert.Empty(none.Errors);
        Assert.Equal(AgentOptions.DefaultListen, none.Options.Listen);

        File.WriteAllText(Path.Combine(_dir, "agent.json"), "{}");
        AgentConfiguration empty = AgentConfiguration.Load(_dir, []);
        Assert.Empty(empty.Errors);

        // Framework request and hosting lines are warnings-only by default, as the shipped agent.json has them.
        Assert.Equal("Warning", empty.Configuration["Serilog:MinimumLevel:Override:Microsoft"]);
        Assert.Equal("Information", empty.Configuration["Serilog:MinimumLevel:Default"]);
        using System.Text.Json.JsonDocument shipped = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Paths.ShippedConfig, "agent.json")));
        System.Text.Json.JsonElement level = shipped.RootElement.GetProperty("Serilog").GetProperty("MinimumLevel");
        Assert.Equal(level.GetProperty("Default").GetString(), empty.Configuration["Serilog:MinimumLevel:Default"]);
        foreach (System.Text.Json.JsonProperty o in level.GetProperty("Override").EnumerateObject())
        {
            Assert.Equal(o.Value.GetString(), empty.Configuration[$"Serilog:MinimumLevel:Override:{o.Name}"]);
        }
    }

    [Fact]
    public void Counters_x_and_x_total_are_one_family_and_an_error_names_both()
    {
        WriteSet("one", """
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [
                { "name": "requests", "type": "counter" },
                { "name": "requests_total", "type": "counter" } ] } ] }
            """);
        ConfigError e = Assert.Single(AgentConfiguration.Load(_dir, []).Errors);
        Assert.Contains("'requests_total'", e.Problem, StringComparison.Ordinal);
        Assert.Contains("'requests'", e.Problem, StringComparison.Ordinal);
        Assert.Contains("same Prometheus family requests", e.Problem, StringComparison.Ordinal);

        // Across sets too, and a histogram's _count series against a counter.
        File.Delete(Path.Combine(_dir, "programs.d", "one.json"));
        WriteSet("a", """{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "lat", "type": "histogram", "field": "f" } ] } ] }""");
        WriteSet("b", """{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "lat_count", "type": "gauge", "field": "f" } ] } ] }""");
        e = Assert.Single(AgentConfiguration.Load(_dir, []).Errors);
        Assert.Contains("of set a", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_near_miss_key_gets_a_did_you_mean()
    {
        List<ConfigError> errors = ReadSet("""
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [
                { "name": "c_total", "type": "countr", "lables": [] } ] } ] }
            """);
        Assert.Contains(errors, e => e.Key.EndsWith(".lables", StringComparison.Ordinal) && e.Fix.Contains("did you mean \"labels\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Key.EndsWith(".type", StringComparison.Ordinal) && e.Fix.Contains("did you mean \"counter\"", StringComparison.Ordinal));

        File.Delete(Path.Combine(_dir, "programs.d", "probe.json"));
        File.WriteAllText(Path.Combine(_dir, "agent.json"), """{ "Agent": { "Lisen": "http://127.0.0.1:1" } }""");
        ConfigError agent = Assert.Single(AgentConfiguration.Load(_dir, []).Errors);
        Assert.Contains("did you mean Listen", agent.Fix, StringComparison.Ordinal);

        Assert.Null(DidYouMean.Closest("ringBuffers", ["object", "optional"]));
    }

    [Fact]
    public void An_invalid_type_is_one_error_not_also_one_about_buckets()
    {
        List<ConfigError> errors = ReadSet("""
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [
                { "name": "lat", "type": "histo", "field": "f", "buckets": [1, 2] } ] } ] }
            """);
        ConfigError e = Assert.Single(errors);
        Assert.EndsWith(".type", e.Key, StringComparison.Ordinal);
    }

    [Fact]
    public void A_histogram_scaled_into_seconds_without_buckets_is_warned_about()
    {
        WriteSet("lat", """
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [
                { "name": "lat_seconds", "type": "histogram", "field": "ns", "scale": 1e-9 },
                { "name": "size_bytes", "type": "histogram", "field": "n" } ] } ] }
            """);
        AgentConfiguration c = AgentConfiguration.Load(_dir, []);
        Assert.Empty(c.Errors);
        ConfigError w = Assert.Single(c.Warnings);
        Assert.Equal("ringBuffers[0].metrics[0].buckets", w.Key);
        Assert.Contains("lat_seconds", w.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_syntax_errors_give_line_and_column_and_trailing_commas_are_allowed()
    {
        File.WriteAllText(Path.Combine(_dir, "agent.json"), "{\n  \"Agent\": {\n    \"Listen\": \n  }\n}\n");
        ConfigError e = Assert.Single(AgentConfiguration.Load(_dir, []).Errors);
        Assert.Matches(@"^line 4, column \d+$", e.Key);

        // Documented as allowed (docs/configuration.md): trailing commas and comments, in both kinds of file.
        File.WriteAllText(Path.Combine(_dir, "agent.json"), "{ // comment\n  \"Agent\": { \"PollTimeoutMs\": 7, },\n}\n");
        WriteSet("t", """{ "object": "x.bpf.o", /* c */ "ringBuffers": [ { "map": "m", "struct": "s", }, ], }""");
        AgentConfiguration ok = AgentConfiguration.Load(_dir, []);
        Assert.Empty(ok.Errors);
        Assert.Equal(7, ok.Options.PollTimeoutMs);
        Assert.Single(ok.Sets);
    }

    [Theory]
    [InlineData("http://127.0.0.1:70000", "port 70000")]
    [InlineData("http://127.0.0.1:0", "port 0")]
    [InlineData("http://[::1]:99999", "port 99999")]
    [InlineData("https://127.0.0.1:9435", "is https:// but no web config file configures TLS")]
    [InlineData("127.0.0.1:9435", "not an http:// or https:// URL")]
    public void A_bad_listen_address_says_what_is_wrong(string url, string expected)
    {
        ConfigError e = Assert.Single(AgentConfiguration.Load(_dir, [$"--Agent:Listen={url}"]).Errors);
        Assert.Contains(expected, e.Problem, StringComparison.Ordinal);
        Assert.Equal(("command line", "--Agent:Listen"), (e.File, e.Key));
        if (expected.StartsWith("port", StringComparison.Ordinal))
        {
            Assert.Contains("outside 1-65535", e.Problem, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Binding_an_address_in_use_fails_in_one_line_naming_it_and_a_free_one_binds()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        string? problem = ListenAddress.TryBind($"http://127.0.0.1:{port}");
        Assert.Equal($"cannot listen on http://127.0.0.1:{port}: the address is already in use", problem);
        Assert.Contains("--Agent:Listen", ListenAddress.Fix, StringComparison.Ordinal);
        Assert.Contains("BPF_AGENT_Agent__Listen", ListenAddress.Fix, StringComparison.Ordinal);

        Assert.Null(ListenAddress.TryBind($"http://127.0.0.1:{TestConfig.FreePort()}"));
    }

    [Fact]
    public void A_wrong_override_is_blamed_on_the_command_line_or_the_environment_not_on_agent_json()
    {
        File.WriteAllText(Path.Combine(_dir, "agent.json"), """{ "Agent": { "PollTimeoutMs": 5 } }""");
        ConfigError e = Assert.Single(AgentConfiguration.Load(_dir, ["--Agent:Foo=1"]).Errors);
        Assert.Equal(("command line", "--Agent:Foo"), (e.File, e.Key));

        // The environment, in a child process (setting it here would reach every test running in parallel).
        using AgentProcess check = AgentProcess.Start(["check", "--config-dir", _dir],
            new Dictionary<string, string> { ["BPF_AGENT_Agent__PollTimeoutMs"] = "never" });
        int? code = check.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(code is ExitCodes.Config or ExitCodes.NoPermission, $"exit {code}:\n{check.Output}");
        Assert.Contains("error: environment: BPF_AGENT_Agent__PollTimeoutMs: 'never' is not a whole number", check.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("agent.json: Agent.PollTimeoutMs", check.Output, StringComparison.Ordinal);
    }

    private void WriteSet(string name, string json) => File.WriteAllText(Path.Combine(_dir, "programs.d", name + ".json"), json);

    private List<ConfigError> ReadSet(string json)
    {
        string file = Path.Combine(_dir, "programs.d", "probe.json");
        File.WriteAllText(file, json);
        var errors = new List<ConfigError>();
        ProgramSetConfigReader.ReadFile(file, _dir, errors);
        return errors;
    }
}
