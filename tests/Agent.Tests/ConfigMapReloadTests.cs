namespace BpfAgent.Tests;

/// <summary>
/// The program-set directory as a mounted Kubernetes ConfigMap: sets are read through kubelet's symbolic links, its
/// hidden <c>..data</c> and version directories are not sets, and its atomic update (the <c>..data</c> swap) reloads.
/// </summary>
public sealed class ConfigMapReloadTests
{
    private static readonly TimeSpan s_reload = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task A_ConfigMap_swap_reloads_the_changed_set_and_adds_a_new_key_as_a_set()
    {
        int self = Environment.ProcessId;
        using var config = new TestConfig();
        Directory.Delete(config.ProgramsDirectory);
        var configMap = new ConfigMapDirectory(config.ProgramsDirectory);
        string exec = ProgramSetJson.Exec(filterPpid: self);
        configMap.Write(new Dictionary<string, string> { ["exec.json"] = exec });
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        string text = await Scrape.MetricsAsync(config.Url);
        Assert.Equal(1, Scrape.Value(text, "bpf_agent_program_set_up", ("set", "exec")));
        Assert.Equal(["exec"], MetricSamples.Select(text, "bpf_agent_program_set_up").Select(s => s.Labels["set"]).Order());
        TestChildren.Run(TestChildren.True, 3);
        await MetricSamples.SettleAsync(config.Url, t => MetricSamples.Sum(t, "exec_events_total", ("comm", "true")) >= 3, s_reload);

        // An update of an existing key only: nothing but ..data changes in the directory (exec.json stays the same
        // link), and the swap alone reloads: exec's help text changed, so the set is replaced.
        string v2 = exec.Replace("Programs executed, by command name.", "Execs (ConfigMap version 2).", StringComparison.Ordinal);
        configMap.Write(new Dictionary<string, string> { ["exec.json"] = v2 });
        string after = await MetricSamples.SettleAsync(config.Url, t => Scrape.Value(t, "bpf_agent_config_reloads_total", ("result", "success")) >= 1, s_reload);
        Assert.True(Scrape.Value(after, "bpf_agent_config_reloads_total", ("result", "success")) >= 1, $"no reload after the ..data swap:\n{agent.Output}");
        Assert.Equal(0, Scrape.Value(after, "bpf_agent_config_reloads_total", ("result", "failure")) ?? 0);
        Assert.Contains("Reload: program set exec replaced", agent.Output, StringComparison.Ordinal);
        Assert.Contains("# HELP exec_events_total Execs (ConfigMap version 2).", await Scrape.MetricsAsync(config.Url), StringComparison.Ordinal);

        // A new key: a set of its own.
        configMap.Write(new Dictionary<string, string>
        {
            ["exec.json"] = v2,
            ["exec2.json"] = exec.Replace("\"exec_events_total\"", "\"exec2_events_total\"", StringComparison.Ordinal),
        });
        after = await MetricSamples.SettleAsync(config.Url, t => Scrape.Value(t, "bpf_agent_program_set_up", ("set", "exec2")) == 1, s_reload);
        Assert.Equal(1, Scrape.Value(after, "bpf_agent_program_set_up", ("set", "exec")));

        // Both sets count the next execs; the hidden entries never became sets.
        TestChildren.Run(TestChildren.True, 2);
        string counted = await MetricSamples.SettleAsync(config.Url, t => MetricSamples.Sum(t, "exec2_events_total", ("comm", "true")) >= 2, s_reload);
        Assert.Equal(2, MetricSamples.Sum(counted, "exec2_events_total", ("comm", "true")));
        Assert.Equal(["exec", "exec2"], MetricSamples.Select(counted, "bpf_agent_program_set_up").Select(s => s.Labels["set"]).Order());
    }
}
