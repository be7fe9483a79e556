using System.Text.Json.Nodes;

namespace BpfAgent.Tests;

/// <summary>
/// Every kind of configuration error stops the agent at startup with status 78 (EX_CONFIG, which the systemd
/// unit does not restart on) and a message naming the file and the key. Each broken set sits beside a good
/// one (tcp_state): one bad file is enough to refuse to start.
/// </summary>
public sealed class ConfigErrorTests
{
    private const int ExConfig = 78;

    [Fact]
    public async Task An_unknown_key_in_a_program_set_file_names_the_file_and_the_key_path()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["metrics"]![0]!["colour"] = "blue"));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].colour");
        Assert.Contains("is not a known key", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_key_at_the_top_of_a_program_set_file_names_the_file_and_the_key()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root => root["ringBufers"] = new JsonArray()));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBufers");
        Assert.Contains("is not a known key", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_key_in_the_agent_section_of_agent_json_names_the_file_and_the_key()
    {
        using var config = WithGoodSet();
        string agentJson = Path.Combine(config.Directory, "agent.json");
        JsonObject agent = JsonNode.Parse(File.ReadAllText(agentJson))!.AsObject();
        agent["Agent"]!["ListenAddress"] = "http://127.0.0.1:1";
        File.WriteAllText(agentJson, agent.ToJsonString());

        string error = await RunExpectingConfigErrorAsync(config, agentJson, "Agent.ListenAddress");
        Assert.Contains("Listen", error, StringComparison.Ordinal); // the fix lists the known settings
    }

    [Fact]
    public async Task A_metric_type_that_does_not_exist_names_the_key_and_the_valid_types()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["metrics"]![0]!["type"] = "summary"));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].type");
        Assert.Contains("'summary'", error, StringComparison.Ordinal);
        Assert.Contains("counter, histogram, gauge", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_negative_max_series_names_the_key_and_the_valid_range()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["metrics"]![0]!["maxSeries"] = -1));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].maxSeries");
        Assert.Contains("-1", error, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task A_field_missing_from_the_btf_struct_names_the_key_and_lists_the_structs_fields()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["metrics"]![0]!["field"] = "no_such_field"));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].field");
        Assert.Contains("'no_such_field'", error, StringComparison.Ordinal);
        Assert.Contains("exec_event", error, StringComparison.Ordinal);
        Assert.Contains("filename", error, StringComparison.Ordinal); // one of the fields it does have
    }

    [KernelFact]
    public async Task A_struct_missing_from_the_objects_btf_names_the_key_and_tells_how_to_anchor_it()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["struct"] = "no_such_struct"));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].struct");
        Assert.Contains("'no_such_struct'", error, StringComparison.Ordinal);
        Assert.Contains("anchor", error, StringComparison.Ordinal);
        Assert.Contains("BPF_AGENT_EVENT(no_such_struct);", error, StringComparison.Ordinal); // the macro the docs describe
    }

    [KernelFact]
    public async Task A_string_field_observed_as_a_number_is_named_in_c_terms_not_internal_ones()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
        {
            root["ringBuffers"]![0]!["metrics"]![0]!["type"] = "gauge";
            root["ringBuffers"]![0]!["metrics"]![0]!["field"] = "comm";
        }));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].field");
        Assert.Contains("field 'comm' is a char array (char[16], a string), not a number", error, StringComparison.Ordinal);
        Assert.DoesNotContain("CharArray", error, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task A_decoder_that_does_not_fit_its_field_names_the_fields_c_type()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", ProgramSetJson.Edit(ProgramSetJson.Exec(1), root =>
            root["ringBuffers"]![0]!["metrics"]![0]!["labels"]![0]!["decoder"] = "errno"));

        string error = await RunExpectingConfigErrorAsync(config, file, "ringBuffers[0].metrics[0].labels[0].decoder");
        Assert.Contains("decoder 'errno' needs an integer or enum, but field 'comm' is a char array of 16 bytes", error, StringComparison.Ordinal);
    }

    [KernelFact]
    public async Task A_missing_object_of_a_set_that_is_not_optional_names_the_key_and_the_path()
    {
        using var config = WithGoodSet();
        string missing = Path.Combine(config.Directory, "missing.bpf.o");
        string file = config.AddSet("broken", ProgramSetJson.MissingObject(missing, optional: false));

        string error = await RunExpectingConfigErrorAsync(config, file, "object");
        Assert.Contains(missing, error, StringComparison.Ordinal);
        Assert.Contains("does not exist", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_json_in_a_program_set_file_names_the_file_and_the_line()
    {
        using var config = WithGoodSet();
        string file = config.AddSet("broken", "{\n  \"object\": \"exec.bpf.o\",\n  \"ringBuffers\": [ }\n}\n");

        string error = await RunExpectingConfigErrorAsync(config, file, "line 3, column 20");
        Assert.Contains("invalid JSON", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Invalid_json_in_agent_json_names_the_file()
    {
        using var config = WithGoodSet();
        string agentJson = Path.Combine(config.Directory, "agent.json");
        File.WriteAllText(agentJson, "{ \"Agent\": { \"Listen\": } }");

        string error = await RunExpectingConfigErrorAsync(config, agentJson, key: "");
        Assert.Contains("invalid JSON", error, StringComparison.Ordinal);
    }

    /// <summary>A test config with one valid set (tcp_state), so each test's broken file is the only problem.</summary>
    private static TestConfig WithGoodSet()
    {
        var config = new TestConfig();
        config.AddSet("tcp_state", ProgramSetJson.TcpState(TestConfig.FreePort()));
        return config;
    }

    /// <summary>
    /// Runs the agent, asserts it exits with 78 in time, and returns the "Configuration error" line that names
    /// <paramref name="file"/> and <paramref name="key"/> (as "file: key: problem. Fix: ...").
    /// </summary>
    private static async Task<string> RunExpectingConfigErrorAsync(TestConfig config, string file, string key)
    {
        using var agent = AgentProcess.StartWithConfig(config);
        int? exit = await Task.Run(() => agent.WaitForExit(TimeSpan.FromSeconds(20)));
        string output = agent.Output;
        Assert.True(exit == ExConfig, $"exit status {exit?.ToString() ?? "none within 20 s"}, expected {ExConfig}; output:\n{output}");

        string named = key.Length == 0 ? $"{file}: " : $"{file}: {key}: ";
        string? line = output.Split('\n').FirstOrDefault(l => l.Contains("Configuration error", StringComparison.Ordinal) && l.Contains(named, StringComparison.Ordinal));
        Assert.True(line is not null, $"no configuration error naming '{named}' in:\n{output}");
        Assert.Contains("Fix: ", line, StringComparison.Ordinal);

        // Once, and as a message for an operator: no stack trace of the agent's own exception.
        Assert.Single(output.Split('\n'), l => l.Contains(named, StringComparison.Ordinal));
        Assert.DoesNotContain(output.Split('\n'), l => l.StartsWith("   at ", StringComparison.Ordinal));
        return line;
    }
}
