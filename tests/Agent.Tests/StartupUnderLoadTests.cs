using System.Diagnostics;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// Nothing is lost at startup on a busy machine: with busy loops hogging every CPU while the agent starts with the
/// shipped sets (their config files as shipped, unfiltered), no sample is dropped at any stage in the first seconds,
/// where a cold worker behind near-empty batches used to drop at stage "channel".
/// </summary>
public sealed class StartupUnderLoadTests(ITestOutputHelper output)
{
    [KernelFact]
    public async Task With_every_CPU_busy_the_shipped_sets_start_without_dropping_a_sample()
    {
        using var config = new TestConfig();
        int sets = 0;
        foreach (string shipped in Directory.GetFiles(Path.Combine(Paths.Root, "config", "programs.d"), "*.json"))
        {
            config.AddSet(Path.GetFileNameWithoutExtension(shipped), ProgramSetJson.AsShipped(Path.GetFileNameWithoutExtension(shipped)));
            sets++;
        }

        var hogs = new List<Process>();
        try
        {
            for (int i = 0; i < Environment.ProcessorCount; i++)
            {
                hogs.Add(Process.Start(new ProcessStartInfo("/bin/sh", ["-c", "while :; do :; done"]) { UseShellExecute = false })!);
            }

            using var agent = AgentProcess.StartWithConfig(config);
            await AgentHealth.WaitHealthyAsync(agent, config.Url);

            // Startup traffic (execs of the hogs' shells, the agent's own start, the host's syscalls) for a while.
            TestChildren.Run(TestChildren.True, 20);
            await Task.Delay(TimeSpan.FromSeconds(5));
            string text = await MetricSamples.SettleAsync(config.Url, _ => true, TimeSpan.Zero);
            double received = MetricSamples.Sum(text, "bpf_agent_ring_samples_received_total");
            output.WriteLine($"received {received}; dropped by stage: " + string.Join(", ",
                MetricSamples.Select(text, "bpf_agent_samples_dropped_total").GroupBy(s => s.Label("stage")).Select(g => $"{g.Key}={g.Sum(s => s.Value)}")));
            Assert.True(received > 0, "the shipped sets received nothing");
            foreach (string stage in new[] { "kernel", "poll", "channel", "decode" })
            {
                Assert.True(MetricSamples.Sum(text, "bpf_agent_samples_dropped_total", ("stage", stage)) == 0,
                    $"dropped at stage {stage} while starting on a busy machine:\n{string.Join("\n", MetricSamples.Select(text, "bpf_agent_samples_dropped_total").Select(s => s.ToString()))}");
            }

            Assert.Equal(sets, MetricSamples.Select(text, "bpf_agent_program_set_up").Count(s => s.Value == 1));
        }
        finally
        {
            foreach (Process hog in hogs)
            {
                hog.Kill();
                hog.WaitForExit();
                hog.Dispose();
            }
        }
    }
}
