using System.Diagnostics;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// "Change without restart": SIGHUP with a broken set keeps the running one, a valid change replaces it, a new file adds
/// a set and a removed file unloads one; 100 reload cycles leave the agent's fds and the kernel's programs at baseline.
/// </summary>
public sealed class ReliabilityReloadTests(ITestOutputHelper output)
{
    private const string Finished = "Reload finished: ";
    private static readonly TimeSpan s_reload = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task Broken_set_keeps_the_running_one_valid_changes_apply_and_removed_sets_unload()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string steadyFile = config.AddSet("steady", Steady(trigger.Tid, burst: 1));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        int reloads = 0;
        double delivered = await FireAndCountAsync(trigger, config, "steady", 10, expected: 10);

        // Invalid JSON, an unknown key, a field the struct does not have: each reload fails, the old set runs on.
        (string Json, string Problem)[] broken =
        [
            ("{ \"object\": ", "invalid JSON"),
            (Steady(trigger.Tid, burst: 1).Replace("\"programs\"", "\"bogus_key\": true, \"programs\"", StringComparison.Ordinal), "bogus_key"),
            (Steady(trigger.Tid, burst: 1, labelField: "no_such_field"), "no_such_field"),
        ];
        foreach ((string json, string problem) in broken)
        {
            File.WriteAllText(steadyFile, json);
            string text = await ReloadAsync(agent, config, ++reloads);
            Assert.Equal(0, Scrape.Value(text, "bpf_agent_config_reloads_total", ("result", "success")));
            Assert.Equal(reloads, Scrape.Value(text, "bpf_agent_config_reloads_total", ("result", "failure")));
            string log = LastReloadLog(agent.Output);
            Assert.True(log.Contains(problem, StringComparison.Ordinal) && log.Contains("steady", StringComparison.Ordinal),
                $"the reload's log does not name '{problem}' and the set:\n{log}");
            Assert.Equal(1, Scrape.Value(text, "bpf_agent_program_set_up", ("set", "steady")));
            delivered = await FireAndCountAsync(trigger, config, "steady", 10, expected: delivered + 10);
        }

        // A parameter change: the set is replaced (burst 2: two samples a trigger), its counters continue.
        IReadOnlySet<uint> oldPrograms = ProcessFacts.ProgramIdsHeldBy(agent.Pid);
        File.WriteAllText(steadyFile, Steady(trigger.Tid, burst: 2));
        string changed = await ReloadAsync(agent, config, ++reloads);
        Assert.Equal(1, Scrape.Value(changed, "bpf_agent_config_reloads_total", ("result", "success")));
        Assert.Contains("Reload: program set steady replaced", agent.Output, StringComparison.Ordinal);
        Assert.True(ProcessFacts.WaitUntil(() => !Bpf.BpfSystem.GetLoadedProgramIds().Any(oldPrograms.Contains), TimeSpan.FromSeconds(10)),
            "the replaced set's programs are still loaded");
        delivered = await FireAndCountAsync(trigger, config, "steady", 10, expected: delivered + 20);

        // A new set file: added.
        IReadOnlySet<uint> withoutExtra = ProcessFacts.ProgramIdsHeldBy(agent.Pid);
        string extraFile = config.AddSet("extra", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide", metrics: """
            [ { "name": "extra_samples_total", "type": "counter" } ]
            """));
        string added = await ReloadAsync(agent, config, ++reloads);
        Assert.Equal(2, Scrape.Value(added, "bpf_agent_config_reloads_total", ("result", "success")));
        Assert.Equal(1, Scrape.Value(added, "bpf_agent_program_set_up", ("set", "extra")));
        var extraPrograms = ProcessFacts.ProgramIdsHeldBy(agent.Pid).Except(withoutExtra).ToHashSet();
        Assert.NotEmpty(extraPrograms);
        await FireAndCountAsync(trigger, config, "extra", 10, expected: 10);
        delivered = await FireAndCountAsync(trigger, config, "steady", 0, expected: delivered + 20);

        // Its file removed: unloaded, its programs gone from the kernel; the other set runs on.
        File.Delete(extraFile);
        string removed = await ReloadAsync(agent, config, ++reloads);
        Assert.Equal(3, Scrape.Value(removed, "bpf_agent_config_reloads_total", ("result", "success")));
        Assert.Contains("Reload: program set extra removed", agent.Output, StringComparison.Ordinal);
        Assert.Null(Scrape.Value(removed, "bpf_agent_program_set_up", ("set", "extra")));
        string gone = await MetricSamples.SettleAsync(config.Url, t => MetricSamples.Select(t, "extra_samples_total").Count == 0, s_reload, TimeSpan.Zero);
        Assert.Empty(MetricSamples.Select(gone, "extra_samples_total")); // its meter went with it
        Assert.True(ProcessFacts.WaitUntil(() => !Bpf.BpfSystem.GetLoadedProgramIds().Any(extraPrograms.Contains), TimeSpan.FromSeconds(10)),
            "the removed set's programs are still loaded");
        await FireAndCountAsync(trigger, config, "steady", 10, expected: delivered + 20);
        Assert.Equal(3, Scrape.Value(await Scrape.MetricsAsync(config.Url), "bpf_agent_config_reloads_total", ("result", "failure")));
    }

    [KernelFact]
    public async Task Replaced_set_without_pins_hands_every_count_to_its_successor()
    {
        // Without pinning each version has its own rings and its own bpf_agent_drops: what the old version counted
        // (and wrote but was not read yet) must be carried over, so produced = received + kernel drops still holds.
        const int Triggers = 50, Burst = 1000;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string Set(long generation) => ReliabilityConfig.FloodSet(trigger.Tid, Burst, generation: generation, extra: """ "pinning": { "enabled": false }, """);
        string file = config.AddSet("flood", Set(0));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        long produced = 0;
        RingAccount a = RingAccount.Read(await Scrape.MetricsAsync(config.Url), "flood", "flood_events");
        for (int version = 1; version <= 3; version++)
        {
            trigger.Fire(Triggers);
            produced += Triggers * Burst;
            RingAccount before = a;
            File.WriteAllText(file, Set(version));
            string text = await ReloadAsync(agent, config, version);
            Assert.Equal(version, Scrape.Value(text, "bpf_agent_config_reloads_total", ("result", "success")));
            text = await MetricSamples.SettleAsync(config.Url,
                t => RingAccount.Read(t, "flood", "flood_events") is { } x && x.Received + x.Kernel >= produced && x.Settled, s_reload);
            a = RingAccount.Read(text, "flood", "flood_events");
            output.WriteLine($"after reload {version}: {a}");
            Assert.True(a.Kernel > before.Kernel && a.Received >= before.Received && a.Delivered >= before.Delivered, $"a count went back: {before} -> {a}");
            Assert.True(produced == a.Received + a.Kernel, $"produced {produced} != received + kernel drops: {a}");
            Assert.True(a.Settled, a.ToString());
        }
    }

    [KernelFact]
    public async Task Hundred_reload_cycles_leave_fds_and_kernel_programs_at_baseline()
    {
        const int Cycles = 100;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string file = config.AddSet("cycle", Steady(trigger.Tid, burst: 1));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        // Two warm-up cycles (first-use allocations: thread pool, JIT, pools), then the baseline.
        int reloads = 0;
        for (; reloads < 2; reloads++)
        {
            File.WriteAllText(file, Steady(trigger.Tid, burst: 1, generation: reloads + 1));
            AgentOutput.Hangup(agent);
            Assert.True(await AgentOutput.WaitForCountAsync(agent, Finished + "success", reloads + 1, s_reload), agent.Output);
        }

        int fds = ProcessFacts.FdCount(agent.Pid);
        IReadOnlyDictionary<string, int> fdKinds = ProcessFacts.FdKinds(agent.Pid);
        int heldPrograms = ProcessFacts.ProgramIdsHeldBy(agent.Pid).Count;
        int kernelPrograms = ProcessFacts.LoadedProgramsNamed("flood_wide").Count;
        int allPrograms = Bpf.BpfSystem.GetLoadedProgramIds().Count;
        Assert.Equal(1, kernelPrograms);

        var sw = Stopwatch.StartNew();
        for (int i = 0; i < Cycles; i++, reloads++)
        {
            File.WriteAllText(file, Steady(trigger.Tid, burst: 1, generation: reloads % 2));
            AgentOutput.Hangup(agent);
            Assert.True(await AgentOutput.WaitForCountAsync(agent, Finished + "success", reloads + 1, s_reload),
                $"reload {reloads + 1} did not succeed:\n{agent.Output}");
        }

        sw.Stop();
        output.WriteLine($"{Cycles} reload cycles in {sw.Elapsed.TotalSeconds:F1} s ({sw.Elapsed.TotalMilliseconds / Cycles:F0} ms a cycle)");
        Assert.Equal(0, AgentOutput.Count(agent.Output, Finished + "failure"));
        Assert.Equal(reloads, AgentOutput.Count(agent.Output, "Reload: program set cycle replaced"));

        // Every fd exactly as before (an assembly .NET maps for the first time is not a per-reload resource), and exactly
        // the same number of flood_wide programs in the kernel. The kernel frees a closed program after an RCU grace
        // period: wait (bounded) for that.
        bool atBaseline = ProcessFacts.WaitUntil(() =>
            ProcessFacts.FdGrowth(fdKinds, ProcessFacts.FdKinds(agent.Pid)).Length == 0
            && ProcessFacts.LoadedProgramsNamed("flood_wide").Count == kernelPrograms, TimeSpan.FromSeconds(10));
        string growth = ProcessFacts.FdGrowth(fdKinds, ProcessFacts.FdKinds(agent.Pid));
        output.WriteLine($"fds {fds} -> {ProcessFacts.FdCount(agent.Pid)} (changes other than assemblies loaded late: {(growth.Length == 0 ? "none" : growth)}); " +
            $"agent's programs {heldPrograms} -> {ProcessFacts.ProgramIdsHeldBy(agent.Pid).Count}; " +
            $"kernel flood_wide programs {kernelPrograms} -> {ProcessFacts.LoadedProgramsNamed("flood_wide").Count}; " +
            $"all kernel programs {allPrograms} -> {Bpf.BpfSystem.GetLoadedProgramIds().Count} (other processes included)");
        Assert.True(atBaseline, $"not at baseline after {Cycles} reloads: fds changed: {growth}; " +
            $"flood_wide programs in the kernel {kernelPrograms} -> {ProcessFacts.LoadedProgramsNamed("flood_wide").Count}");
        Assert.Equal(heldPrograms, ProcessFacts.ProgramIdsHeldBy(agent.Pid).Count);

        // And the last version works.
        await FireAndCountAsync(trigger, config, "cycle", 5, expected: 5);
    }

    /// <summary>A set of flood_wide (no kernel drops) with a sample counter named after the set.</summary>
    private static string Steady(int tid, int burst, long generation = 0, string? labelField = null) =>
        ReliabilityConfig.FloodSet(tid, burst, program: "flood_wide", generation: generation, metrics: labelField is null
            ? """[ { "name": "steady_samples_total", "type": "counter" } ]"""
            : $$"""[ { "name": "steady_samples_total", "type": "counter", "labels": [ { "name": "x", "field": "{{labelField}}" } ] } ]""");

    private static async Task<string> ReloadAsync(AgentProcess agent, TestConfig config, int reloads)
    {
        AgentOutput.Hangup(agent);
        Assert.True(await AgentOutput.WaitForCountAsync(agent, Finished, reloads, s_reload), $"reload {reloads} did not finish:\n{agent.Output}");
        return await Scrape.MetricsAsync(config.Url);
    }

    /// <summary>Fires <paramref name="triggers"/> and waits until the set's ring has delivered <paramref name="expected"/> in all.</summary>
    private static async Task<double> FireAndCountAsync(SyscallTrigger trigger, TestConfig config, string set, int triggers, double expected)
    {
        trigger.Fire(triggers);
        string text = await MetricSamples.SettleAsync(config.Url, t => RingAccount.Read(t, set, "wide_events").Delivered >= expected, s_reload);
        RingAccount a = RingAccount.Read(text, set, "wide_events");
        Assert.True(a.Delivered == expected && a.Received == expected, $"set {set}: expected {expected} delivered: {a}");

        // The set's own counter continues across a reload too (a new version of a set feeds the same series).
        string metric = set == "cycle" ? "steady_samples_total" : $"{set}_samples_total";
        Assert.True(MetricSamples.Sum(text, metric) == expected, $"{metric} is {MetricSamples.Sum(text, metric)}, expected {expected}");
        return a.Delivered;
    }

    /// <summary>The log lines since the last-but-one "Reload finished" (the last reload's lines).</summary>
    private static string LastReloadLog(string output)
    {
        int end = output.LastIndexOf(Finished, StringComparison.Ordinal);
        int start = output.LastIndexOf(Finished, end - 1, StringComparison.Ordinal);
        start = start < 0 ? 0 : start;
        return output[start..(end + 200 > output.Length ? output.Length : end + 200)];
    }
}
