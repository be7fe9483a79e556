using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// Restarts: every counter of a set has one lifetime, the agent's (the kernel drop counter too, though its pinned map
/// outlives the agent: its value at load is the new run's zero); after SIGKILL the pins are intact,
/// the dead agent's programs are gone from the kernel (it pins maps, not programs or links) and a new agent takes over.
/// </summary>
public sealed class ReliabilityRestartTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(20);

    [KernelFact]
    public async Task Kernel_drops_start_at_zero_after_a_restart_like_every_other_counter_while_the_pin_keeps_its_total()
    {
        const int Triggers = 50, Burst = 1000;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["KeepPinsOnExit"] = true });
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, Burst));

        RingAccount first;
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url);
            trigger.Fire(Triggers);
            first = await SettledAsync(config.Url, Triggers * Burst);
            Assert.True(first.Kernel > 0, $"no kernel drops to carry over: {first}");
            Assert.Equal(Triggers * Burst, first.Received + first.Kernel);
            Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));
        }

        string? dropsPin = ReliabilityConfig.PinOf(config, "flood", "bpf_agent_drops");
        Assert.True(dropsPin is not null, $"bpf_agent_drops is not pinned under {config.PinRoot}/flood");
        Assert.Equal(first.Kernel, ProcessFacts.ReadPinnedPerCpuSum(dropsPin));

        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url);
            RingAccount restarted = RingAccount.Read(await Scrape.MetricsAsync(config.Url), "flood", "flood_events");
            Assert.True(restarted.Kernel == 0, $"the kernel drop counter carried the first run's drops into the new run: before {first}; after {restarted}");
            Assert.Equal(0, restarted.Received); // the first agent drained the (pinned) ring before it stopped
            Assert.Equal(first.Kernel, ProcessFacts.ReadPinnedPerCpuSum(dropsPin)); // the pinned map itself keeps counting

            // Drops carried over in the pinned counter are not "the last second's": no drop alarm for them (the monitor
            // looks once a second; give it two looks).
            await Task.Delay(TimeSpan.FromSeconds(2.2));
            Assert.Equal(0, Scrape.Value(await Scrape.MetricsAsync(config.Url), "bpf_agent_drop_alarm", ("set", "flood")));
            Assert.DoesNotContain("Program set flood dropped", agent.Output, StringComparison.Ordinal);

            trigger.Fire(Triggers);
            RingAccount second = await SettledAsync(config.Url, Triggers * Burst);
            output.WriteLine($"first run: {first}; second run: {second}");
            Assert.True(second.Kernel > 0, $"no kernel drops in the second run: {second}");
            Assert.True(Triggers * Burst == second.Received + second.Kernel, $"second run: produced {Triggers * Burst} != received + kernel drops: {second}");
            Assert.Equal(first.Kernel + second.Kernel, ProcessFacts.ReadPinnedPerCpuSum(dropsPin));
        }
    }

    [KernelFact]
    public async Task Sigkill_mid_run_leaves_pins_intact_and_no_programs_then_a_restart_counts_on()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["KeepPinsOnExit"] = true });
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, 200));

        IReadOnlySet<uint> killedPrograms;
        string[] pinsBefore;
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url);
            killedPrograms = ProcessFacts.ProgramIdsHeldBy(agent.Pid);
            Assert.Contains("flood", killedPrograms.Select(ProcessFacts.ProgramName));
            pinsBefore = Directory.GetFiles(Path.Combine(config.PinRoot, "flood")).Order(StringComparer.Ordinal).ToArray();
            Assert.Contains(pinsBefore, p => Path.GetFileName(p).StartsWith("bpf_agent_drops-", StringComparison.Ordinal));

            trigger.StartContinuous(perBatch: 20, pauseMs: 2);
            try
            {
                await MetricSamples.SettleAsync(config.Url, t => RingAccount.Read(t, "flood", "flood_events").Received > 0, s_settle, TimeSpan.Zero);
                _ = Tmds.Linux.LibC.kill(agent.Pid, Tmds.Linux.LibC.SIGKILL);
                Assert.NotNull(agent.WaitForExit(TimeSpan.FromSeconds(10)));
            }
            finally
            {
                trigger.StopContinuous();
            }
        }

        // Pins are files in bpffs: they outlive the process. Its programs and links were only held by its fds.
        Assert.Equal(pinsBefore, Directory.GetFiles(Path.Combine(config.PinRoot, "flood")).Order(StringComparer.Ordinal).ToArray());
        Assert.True(ProcessFacts.WaitUntil(() => !Bpf.BpfSystem.GetLoadedProgramIds().Any(killedPrograms.Contains), TimeSpan.FromSeconds(10)),
            $"programs of the killed agent are still loaded: {string.Join(", ", Bpf.BpfSystem.GetLoadedProgramIds().Where(killedPrograms.Contains))}");
        long kernelAtKill = ProcessFacts.ReadPinnedPerCpuSum(ReliabilityConfig.PinOf(config, "flood", "bpf_agent_drops")!);

        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url); // the pin root's lock died with the killed agent
            Assert.Equal(pinsBefore, Directory.GetFiles(Path.Combine(config.PinRoot, "flood")).Order(StringComparer.Ordinal).ToArray());
            string start = await Scrape.MetricsAsync(config.Url);
            RingAccount before = RingAccount.Read(start, "flood", "flood_events");
            Assert.Equal(0, before.Kernel); // the killed run's drops stay in the pin, not in the new run's counter

            trigger.Fire(10);
            string text = await MetricSamples.SettleAsync(config.Url,
                t => RingAccount.Read(t, "flood", "flood_events") is { } a && a.Received + a.Kernel >= before.Received + before.Kernel + 2000 && a.Settled, s_settle);
            RingAccount after = RingAccount.Read(text, "flood", "flood_events");
            output.WriteLine($"after restart: {before}; after 10 more triggers: {after}");
            Assert.Equal(2000, after.Received + after.Kernel - before.Received - before.Kernel);
            Assert.Equal(kernelAtKill + after.Kernel, ProcessFacts.ReadPinnedPerCpuSum(ReliabilityConfig.PinOf(config, "flood", "bpf_agent_drops")!));
            Assert.True(after.Delivered > before.Delivered, $"the restarted agent delivers nothing: {after}");
            Assert.Equal(1, Scrape.Value(text, "bpf_agent_program_set_up", ("set", "flood")));
        }
    }

    private static async Task<RingAccount> SettledAsync(string url, double produced)
    {
        string text = await MetricSamples.SettleAsync(url,
            t => RingAccount.Read(t, "flood", "flood_events") is { } a && a.Received + a.Kernel >= produced && a.Settled, s_settle);
        return RingAccount.Read(text, "flood", "flood_events");
    }
}
