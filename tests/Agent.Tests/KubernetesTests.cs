using System.Diagnostics;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// deploy/kubernetes/ really runs: its DaemonSet's pod template, as a Pod with the ConfigMap of program sets, under
/// `podman kube play`; a real Prometheus scrapes the pod on its own address; a ConfigMap update (kubelet's ..data
/// swap in the mounted volume) reloads a set. And its ConfigMap's files are the shipped sets, current.
/// </summary>
public sealed class KubernetesTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(30);

    [Fact]
    public void The_ConfigMap_files_are_the_shipped_sets_with_the_images_object_paths()
    {
        string dir = System.IO.Directory.CreateTempSubdirectory("bpf-agent-k8s-render-").FullName;
        try
        {
            (int exit, string o, string e) = Podman.Exec("bash", [Path.Combine(KubernetesManifests.Directory, "render-sets.sh")], TimeSpan.FromMinutes(1),
                new Dictionary<string, string> { ["OUT"] = dir });
            Assert.True(exit == 0, o + e);
            string[] shipped = [.. System.IO.Directory.GetFiles(Path.Combine(Paths.ShippedConfig, "programs.d"), "*.json").Select(Path.GetFileName).Order()!];
            Assert.Equal(shipped.Select(f => "programs.d/" + f), KubernetesManifests.GeneratedFiles().Order());
            foreach (string file in shipped)
            {
                Assert.True(File.ReadAllText(Path.Combine(dir, file)) == File.ReadAllText(Path.Combine(KubernetesManifests.Directory, "programs.d", file)),
                    $"deploy/kubernetes/programs.d/{file} is not config/programs.d/{file} as the image has it: run `make kubernetes`");
                Assert.Contains("\"object\": \"/usr/lib/bpf-agent/programs/", File.ReadAllText(Path.Combine(dir, file)), StringComparison.Ordinal);
            }
        }
        finally
        {
            System.IO.Directory.Delete(dir, recursive: true);
        }
    }

    [ContainerFact]
    public async Task The_DaemonSets_pod_runs_under_podman_kube_play_is_scraped_by_Prometheus_and_reloads_on_a_ConfigMap_update()
    {
        Podman.EnsureAgentImage();
        string name = Podman.Name("pod").Replace("bpf-agent-test-", "bat-", StringComparison.Ordinal);
        string configMap = name + "-programs";
        string ip = $"10.88.{Random.Shared.Next(200, 250)}.{Random.Shared.Next(2, 250)}";
        string pinRoot = $"/sys/fs/bpf/bpf-agent-k8s-{Guid.NewGuid():N}";
        string dir = System.IO.Directory.CreateTempSubdirectory("bpf-agent-k8s-").FullName;
        string podFile = Path.Combine(dir, "pod.yaml");
        string configMapFile = Path.Combine(dir, "configmap.yaml");
        File.WriteAllText(podFile, KubernetesManifests.PodFromDaemonSet(name, Podman.AgentImage, ip, configMap, new Dictionary<string, string>
        {
            // The test's own pins, removed when it stops (the DaemonSet keeps them across restarts).
            ["BPF_AGENT_Agent__PinRoot"] = pinRoot,
            ["BPF_AGENT_Agent__KeepPinsOnExit"] = "false",
        }));
        File.WriteAllText(configMapFile, KubernetesManifests.ProgramsConfigMap(configMap));
        try
        {
            var started = Stopwatch.StartNew();
            Podman.Check("kube", "play", "--network", "podman", "--ip", ip, "--configmap", configMapFile, podFile);
            string container = $"{name}-bpf-agent";
            string url = $"http://{ip}:9435";
            (System.Net.HttpStatusCode status, string health) = await ImageTests.WaitHealthAsync(url, container);
            output.WriteLine($"the pod answered /healthz {(int)status} {started.Elapsed.TotalSeconds:F1} s after podman kube play");
            Assert.True(status == System.Net.HttpStatusCode.OK, $"/healthz {(int)status}: {health}\n{Podman.Run("logs", container).Err}");

            // The pod's spec as the DaemonSet has it: read-only root, three capabilities, listening on its IP only.
            Assert.Equal("true", Podman.Check("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", container));
            int pid = int.Parse(Podman.Check("inspect", "--format", "{{.State.Pid}}", container));
            string status2 = File.ReadAllText($"/proc/{pid}/status");
            Assert.Contains("CapEff:\t000000c000000004", status2, StringComparison.Ordinal);
            // hostPID: podman 4.3's kube play does not apply it (the pod gets its own pid namespace); said, not asserted.
            bool hostPid = new FileInfo("/proc/self/ns/pid").LinkTarget == new FileInfo($"/proc/{pid}/ns/pid").LinkTarget;
            output.WriteLine($"hostPID applied by podman: {hostPid}");
            (_, string startOut, string startErr) = Podman.Run("logs", container);
            Assert.Contains($"Now listening on: {url}", startOut + startErr, StringComparison.Ordinal);

            // A real Prometheus scrapes the pod: every shipped set up, execs counted.
            using var prometheus = await PrometheusServer.StartAsync($"{ip}:9435");
            int sets = KubernetesManifests.GeneratedFiles().Count;
            var up = await prometheus.QueryUntilAsync($"bpf_agent_program_set_up{{job=\"{PrometheusServer.Job}\"}} == 1", r => r.Count == sets, s_settle);
            Assert.True(up.Count == sets, $"{up.Count} of {sets} sets up in Prometheus; its log:\n{prometheus.Log}");
            TestChildren.Run(TestChildren.True, 2);
            var execs = await prometheus.QueryUntilAsync($"exec_events_total{{job=\"{PrometheusServer.Job}\",comm=\"true\",container_id=\"\"}}", r => r.Count == 1, s_settle);
            Assert.Single(execs);

            // The ConfigMap changes as kubelet changes it (the ..data swap in the mounted volume): exec is reloaded.
            string volume = Podman.Check("volume", "inspect", "--format", "{{.Mountpoint}}", configMap);
            var files = KubernetesManifests.GeneratedFiles().ToDictionary(f => Path.GetFileName(f), f => File.ReadAllText(Path.Combine(KubernetesManifests.Directory, f)));
            files["exec.json"] = files["exec.json"].Replace("\"help\": \"Programs executed,", "\"help\": \"ConfigMap v2: programs executed,", StringComparison.Ordinal);
            Assert.Contains("ConfigMap v2", files["exec.json"], StringComparison.Ordinal);
            new ConfigMapDirectory(volume).Write(files);
            var reloads = await prometheus.QueryUntilAsync($"bpf_agent_config_reloads_total{{job=\"{PrometheusServer.Job}\",result=\"success\"}} >= 1", r => r.Count == 1, s_settle);
            Assert.True(reloads.Count == 1, $"no successful reload after the ConfigMap update:\n{Podman.Run("logs", container).Err}");
            Assert.Contains("# HELP exec_events_total ConfigMap v2: programs executed", await Scrape.MetricsAsync(url), StringComparison.Ordinal);
            (_, string logOut, string logErr) = Podman.Run("logs", container);
            Assert.Contains("Reload: program set exec replaced", logOut + logErr, StringComparison.Ordinal);
            Assert.Empty(await prometheus.QueryAsync($"bpf_agent_config_reloads_total{{job=\"{PrometheusServer.Job}\",result=\"failure\"}} > 0"));
        }
        finally
        {
            Podman.Remove(name, pod: true);
            Podman.Run("volume", "rm", "--force", configMap);
            System.IO.Directory.Delete(dir, recursive: true);
            if (System.IO.Directory.Exists(pinRoot))
            {
                System.IO.Directory.Delete(pinRoot, recursive: true);
            }
        }
    }
}
