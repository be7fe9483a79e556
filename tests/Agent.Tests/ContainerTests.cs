namespace BpfAgent.Tests;

/// <summary>
/// The shipped exec set on the host, with real podman containers: execs inside a container carry its id in
/// <c>container_id</c>, execs on the host carry none.
/// </summary>
public sealed class ContainerTests
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(20);

    [ContainerFact]
    public async Task Execs_in_a_container_carry_its_id_and_host_execs_none()
    {
        Podman.EnsureBusybox();
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.AsShipped("exec"));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        // A container that runs its own program five times (a name nothing else on the host runs).
        string name = Podman.Name("execs");
        try
        {
            string id = Podman.Check("run", "--name", name, Podman.BusyboxImage, "/bin/sh", "-c",
                "set -e; mkdir -p /tmp; ln -s /bin/busybox /tmp/ctrprobe; for i in 1 2 3 4 5; do /tmp/ctrprobe true || true; done; cat /proc/self/cgroup").Split('\n')[^1];
            string full = Podman.Check("inspect", "--format", "{{.Id}}", name);
            Assert.Matches("^[0-9a-f]{64}$", full);

            // The same program on the host, three times.
            string probe = Path.Combine(Path.GetDirectoryName(config.ProgramsDirectory)!, "ctrprobe");
            File.CreateSymbolicLink(probe, "/bin/busybox");
            for (int i = 0; i < 3; i++)
            {
                Podman.Exec(probe, ["true"], TimeSpan.FromSeconds(10));
            }

            string text = await MetricSamples.SettleAsync(config.Url,
                t => MetricSamples.Sum(t, "exec_events_total", ("comm", "ctrprobe")) >= 8, s_settle);
            var series = MetricSamples.Select(text, "exec_events_total", ("comm", "ctrprobe"));
            string seen = string.Join(", ", series.Select(s => $"{s.Label("container_id")}={s.Value}"));
            Assert.True(MetricSamples.Sum(text, "exec_events_total", ("comm", "ctrprobe"), ("container_id", full)) == 5,
                $"container {full} (cgroup {id}): ctrprobe's series {seen}");
            Assert.Equal(3, MetricSamples.Sum(text, "exec_events_total", ("comm", "ctrprobe"), ("container_id", "")));
            Assert.True(series.Count == 2, $"ctrprobe's series: {seen}");

            // No exec was left with an unknown cgroup.
            Assert.Equal(0, MetricSamples.Sum(text, "exec_events_total", ("container_id", "unknown")));
        }
        finally
        {
            Podman.Remove(name);
        }
    }
}
