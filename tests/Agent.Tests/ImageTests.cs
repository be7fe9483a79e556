using System.Diagnostics;
using System.Net;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// The image `make image` builds, run by podman the way docs/containers.md says: as its non-root default user with
/// CAP_BPF, CAP_PERFMON and CAP_DAC_READ_SEARCH only, a read-only root, the host's bpffs, tracefs and cgroups, the
/// host's pid namespace. It loads every shipped set, counts execs on the host and in another container (with that
/// container's id), serves /metrics and /healthz, and on SIGTERM exits 0 with its programs gone from the kernel.
/// </summary>
public sealed class ImageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(20);

    /// <summary>The run line of docs/containers.md, on <paramref name="port"/> and its own pin root.</summary>
    public static string[] RunArgs(string name, int port, string pinRoot) =>
    [
        "run", "--detach", "--name", name,
        "--network", "host", "--pid", "host", "--read-only",
        "--cap-drop", "ALL", "--cap-add", "BPF,PERFMON,DAC_READ_SEARCH",
        "--security-opt", "seccomp=unconfined",
        "--volume", "/sys/fs/bpf:/sys/fs/bpf",
        "--volume", "/sys/kernel/tracing:/sys/kernel/tracing:ro",
        "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--env", $"BPF_AGENT_Agent__Listen=http://127.0.0.1:{port}",
        "--env", $"BPF_AGENT_Agent__PinRoot={pinRoot}",
        "--env", "BPF_AGENT_Agent__KeepPinsOnExit=false",
        Podman.AgentImage,
    ];

    [ContainerFact]
    public async Task The_image_runs_every_shipped_set_labels_containers_and_stops_cleanly_on_SIGTERM()
    {
        Podman.EnsureAgentImage();
        Podman.EnsureBusybox();
        int port = TestConfig.FreePort();
        string url = $"http://127.0.0.1:{port}";
        string pinRoot = $"/sys/fs/bpf/bpf-agent-image-{Guid.NewGuid():N}";
        string name = Podman.Name("image");
        string other = Podman.Name("other");
        try
        {
            var started = Stopwatch.StartNew();
            Podman.Check(RunArgs(name, port, pinRoot));
            (HttpStatusCode status, string health) = await WaitHealthAsync(url, name);
            output.WriteLine($"/healthz answered {(int)status} {started.Elapsed.TotalSeconds:F1} s after podman run");
            Assert.True(status == HttpStatusCode.OK, $"/healthz {(int)status}: {health}\n{Podman.Run("logs", name).Err}");
            string[] shipped = [.. Directory.GetFiles(Path.Combine(Paths.ShippedConfig, "programs.d"), "*.json").Select(f => Path.GetFileNameWithoutExtension(f)!).Order()];
            string metrics = await Scrape.MetricsAsync(url);
            foreach (string set in shipped)
            {
                Assert.True(Scrape.Value(metrics, "bpf_agent_program_set_up", ("set", set)) == 1, $"set {set} is not up:\n{health}");
            }

            // Its user is the image's, not root; its capabilities exactly the three.
            int pid = int.Parse(Podman.Check("inspect", "--format", "{{.State.Pid}}", name));
            string status2 = File.ReadAllText($"/proc/{pid}/status");
            Assert.Contains("Uid:\t65532\t65532\t65532\t65532", status2, StringComparison.Ordinal);
            Assert.Contains("CapEff:\t000000c000000004", status2, StringComparison.Ordinal);
            IReadOnlySet<uint> programs = ProcessFacts.ProgramIdsHeldBy(pid);
            Assert.NotEmpty(programs);

            // Execs on the host (no container) and in another container (its id).
            string probe = Path.Combine(Path.GetTempPath(), $"imgprobe{Environment.ProcessId % 100_000}");
            string comm = Path.GetFileName(probe);
            File.Delete(probe);
            File.CreateSymbolicLink(probe, "/bin/busybox");
            try
            {
                for (int i = 0; i < 3; i++)
                {
                    Podman.Exec(probe, ["true"], TimeSpan.FromSeconds(10));
                }
            }
            finally
            {
                File.Delete(probe);
            }

            Podman.Check("run", "--name", other, Podman.BusyboxImage, "/bin/sh", "-c",
                $"set -e; mkdir -p /tmp; ln -s /bin/busybox /tmp/{comm}; for i in 1 2 3 4; do /tmp/{comm} true || true; done");
            string otherId = Podman.Check("inspect", "--format", "{{.Id}}", other);
            string text = await MetricSamples.SettleAsync(url, t => MetricSamples.Sum(t, "exec_events_total", ("comm", comm)) >= 7, s_settle);
            string series = string.Join('\n', text.Split('\n').Where(l => l.Contains(comm, StringComparison.Ordinal)));
            Assert.True(MetricSamples.Sum(text, "exec_events_total", ("comm", comm), ("container_id", "")) == 3, series);
            // The other container has exited by now; its cgroup was found while it ran (by its file handle).
            Assert.True(MetricSamples.Sum(text, "exec_events_total", ("comm", comm), ("container_id", otherId)) == 4, $"{otherId}:\n{series}");

            // SIGTERM (podman stop): exit 0 within the grace period, programs gone.
            started.Restart();
            Podman.Check("stop", "--time", "15", name);
            output.WriteLine($"podman stop took {started.Elapsed.TotalSeconds:F1} s");
            Assert.Equal("0", Podman.Check("inspect", "--format", "{{.State.ExitCode}}", name));
            (_, string logOut, string logErr) = Podman.Run("logs", name);
            Assert.Contains("Stopped after", logErr + logOut, StringComparison.Ordinal);
            // With CAP_DAC_READ_SEARCH and no CAP_SYS_ADMIN: no fanotify watch, but a missing id is looked up by handle.
            Assert.Contains("by its file handle", logErr + logOut, StringComparison.Ordinal);
            Assert.True(ProcessFacts.WaitUntil(() => !Bpf.BpfSystem.GetLoadedProgramIds().Any(programs.Contains), TimeSpan.FromSeconds(10)),
                "the agent's programs are still loaded after it stopped");
        }
        finally
        {
            Podman.Remove(name);
            Podman.Remove(other);
            if (Directory.Exists(pinRoot))
            {
                Directory.Delete(pinRoot, recursive: true);
            }
        }
    }

    /// <summary>/healthz once it answers (the agent loads its sets before it listens), or fails with the container's log.</summary>
    public static async Task<(HttpStatusCode, string)> WaitHealthAsync(string url, string container)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using HttpResponseMessage r = await http.GetAsync(url + "/healthz");
                return (r.StatusCode, await r.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
            }

            if (Podman.Run("inspect", "--format", "{{.State.Running}}", container).Out.Trim() == "false")
            {
                break;
            }

            await Task.Delay(200);
        }

        (_, string o, string e) = Podman.Run("logs", container);
        throw new Xunit.Sdk.XunitException($"{container} never answered on {url}/healthz:\n{o}\n{e}");
    }
}
