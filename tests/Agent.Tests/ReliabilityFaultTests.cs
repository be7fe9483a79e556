using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// Faults and hostile input, each with the behaviour an operator should see: a second agent on the same pins, planted
/// pin directories, an incompatible pinned map, bpffs not mounted, no capabilities, config files others can change,
/// broken objects, a flood of libbpf log lines.
/// </summary>
public sealed class ReliabilityFaultTests(ITestOutputHelper output)
{
    private static readonly TimeSpan s_exit = TimeSpan.FromSeconds(30);

    [KernelFact]
    public async Task Second_agent_on_the_same_pin_root_exits_naming_it_and_the_first_runs_on()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide"));
        using var first = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(first, config.Url);

        using var second = AgentProcess.StartWithConfig(config, null, $"--Agent:Listen=http://127.0.0.1:{TestConfig.FreePort()}");
        int? code = second.WaitForExit(s_exit);
        Assert.True(code is not null and not 0, $"the second agent did not fail (exit {code}):\n{second.Output}");
        Assert.Contains(config.PinRoot, second.Output, StringComparison.Ordinal);
        Assert.Contains("another bpf-agent is already running", second.Output, StringComparison.Ordinal);

        await AgentHealth.WaitHealthyAsync(first, config.Url);
        trigger.Fire(5);
        string text = await MetricSamples.SettleAsync(config.Url, t => RingAccount.Read(t, "flood", "wide_events").Delivered >= 5, TimeSpan.FromSeconds(10));
        Assert.Equal(5, RingAccount.Read(text, "flood", "wide_events").Delivered);
    }

    [KernelFact]
    public async Task Planted_pin_directories_are_refused_with_the_path_and_reason_and_never_followed()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        string decoy = $"/sys/fs/bpf/bpf-agent-test-decoy-{Guid.NewGuid():N}";
        Directory.CreateDirectory(decoy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            // What someone with write access to a 1777 bpffs could leave behind before the agent starts.
            Directory.CreateDirectory(config.PinRoot, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.CreateSymbolicLink(Path.Combine(config.PinRoot, "link"), decoy);
            string open = Directory.CreateDirectory(Path.Combine(config.PinRoot, "open")).FullName;
            File.SetUnixFileMode(open, (UnixFileMode)0x1FF); // 0777
            string foreign = Directory.CreateDirectory(Path.Combine(config.PinRoot, "foreign"),
                UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute).FullName;
            Chown(foreign, 65534);

            foreach (string set in new[] { "link", "open", "foreign", "good" })
            {
                config.AddSet(set, ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide",
                    metrics: $$"""[ { "name": "{{set}}_samples_total", "type": "counter" } ]"""));
            }

            using var agent = AgentProcess.StartWithConfig(config);
            (HttpStatusCode status, JsonDocument body) = await AgentHealth.WaitAsync(agent, config.Url);
            using (body)
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                Assert.Equal("up", SetStatus(body, "good"));
                (string set, string reason)[] expected =
                [
                    ("link", "is a symbolic link"),
                    ("open", "has mode 777, not 0700"),
                    ("foreign", "is owned by uid 65534, not root"),
                ];
                foreach ((string set, string reason) in expected)
                {
                    string path = Path.Combine(config.PinRoot, set);
                    Assert.Equal("failed", SetStatus(body, set));
                    string error = SetError(body, set);
                    Assert.True(error.Contains($"{path}: {reason}", StringComparison.Ordinal), $"set {set}: the error does not name '{path}: {reason}': {error}");
                    Assert.Contains($"{path}: {reason}", agent.Output, StringComparison.Ordinal);
                }
            }

            // Nothing was pinned through the link or into the planted directories; they were left as found.
            Assert.Empty(Directory.GetFileSystemEntries(decoy));
            Assert.Empty(Directory.GetFileSystemEntries(open));
            Assert.Empty(Directory.GetFileSystemEntries(foreign));
            Assert.Equal(decoy, new FileInfo(Path.Combine(config.PinRoot, "link")).LinkTarget);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(config.PinRoot, "good")));
        }
        finally
        {
            Directory.Delete(decoy, recursive: true);
        }
    }

    [KernelFact]
    public async Task Incompatible_pinned_map_is_a_clear_error_or_replaced_with_a_warning_when_the_set_says_so()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["KeepPinsOnExit"] = true });
        string Compat(string version, string pinning = "") => $$"""
            { "object": "{{Paths.TestObject("compat_" + version)}}", {{pinning}} "parameters": { "target_tid": {{trigger.Tid}} } }
            """;

        config.AddSet("compat", Compat("v1"));
        string v1Pin;
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url);
            v1Pin = ReliabilityConfig.PinOf(config, "compat", "compat_state") ?? throw new InvalidOperationException("compat_state is not pinned");
            Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));
        }

        // Same map name, type and sizes, another value layout: the pin of v1 must not be reused by v2.
        config.AddSet("compat", Compat("v2"));
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            (HttpStatusCode status, JsonDocument body) = await AgentHealth.WaitAsync(agent, config.Url);
            using (body)
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
                string error = SetError(body, "compat");
                Assert.True(error.Contains($"{v1Pin}: holds a pinned map whose layout differs from the object's", StringComparison.Ordinal),
                    $"no clear error naming {v1Pin}: {error}\n{agent.Output}");
                Assert.Contains("replaceIncompatible", error, StringComparison.Ordinal);
            }

            Assert.True(File.Exists(v1Pin), "the incompatible pin was removed although the set did not say so");
            Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(15)));
        }

        config.AddSet("compat", Compat("v2", """ "pinning": { "replaceIncompatible": true }, """));
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            await AgentHealth.WaitHealthyAsync(agent, config.Url);
            string warning = agent.Output.Split('\n').FirstOrDefault(l => l.Contains(v1Pin, StringComparison.Ordinal)) ?? "";
            Assert.True(warning.Contains(" WRN]", StringComparison.Ordinal) && warning.Contains("state is lost", StringComparison.Ordinal),
                $"no warning that {v1Pin}'s state was lost:\n{agent.Output}");
            string? v2Pin = ReliabilityConfig.PinOf(config, "compat", "compat_state");
            Assert.False(File.Exists(v1Pin));
            Assert.True(v2Pin is not null && v2Pin != v1Pin, $"v2's pin: {v2Pin}");
        }
    }

    [KernelFact]
    public async Task Without_bpffs_the_pinning_sets_fail_saying_how_to_mount_it_and_the_others_run()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        config.AddSet("pinned", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide"));
        config.AddSet("unpinned", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide", extra: """ "pinning": { "enabled": false }, """,
            metrics: """[ { "name": "unpinned_samples_total", "type": "counter" } ]"""));

        // A private mount namespace in which /sys/fs/bpf is not mounted (the host keeps its bpffs).
        using var agent = new WrappedAgent("unshare", ["--mount", "--propagation", "private", "sh", "-c",
            $"umount /sys/fs/bpf && exec dotnet '{Paths.AgentDll}' --config-dir '{config.Directory}'"]);
        var health = await agent.WaitForHealthAsync(config.Url, TimeSpan.FromSeconds(30));
        Assert.True(health is not null, $"the agent did not serve /healthz:\n{agent.Output}");
        using JsonDocument body = JsonDocument.Parse(health.Value.Body);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.Value.Status);
        Assert.Equal("up", SetStatus(body, "unpinned"));
        string error = SetError(body, "pinned");
        Assert.True(error.Contains("/sys/fs/bpf: is not a mounted bpffs", StringComparison.Ordinal)
            && error.Contains("mount -t bpf bpf /sys/fs/bpf", StringComparison.Ordinal), $"the error does not say bpffs is not mounted and how to mount it: {error}");
        Assert.Contains("mount -t bpf bpf /sys/fs/bpf", agent.Output, StringComparison.Ordinal);

        trigger.Fire(5);
        string text = await MetricSamples.SettleAsync(config.Url, t => RingAccount.Read(t, "unpinned", "wide_events").Delivered >= 5, TimeSpan.FromSeconds(10));
        Assert.Equal(5, RingAccount.Read(text, "unpinned", "wide_events").Delivered);
    }

    [KernelFact]
    public void Without_capabilities_the_agent_exits_77_naming_CAP_BPF_and_CAP_PERFMON()
    {
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        File.SetUnixFileMode(config.Directory, (UnixFileMode)0x1ED); // 0755: uid 65534 must read the config
        File.SetUnixFileMode(config.ProgramsDirectory, (UnixFileMode)0x1ED);

        // uid 65534 may not reach the checkout (under /root, or a mktemp -d directory, both 0700): it runs a copy.
        using var copy = ReachableCopy.Of(AppContext.BaseDirectory);
        using var agent = new WrappedAgent("setpriv",
            ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "dotnet", Path.Combine(copy.Directory, "bpf-agent.dll"), "--config-dir", config.Directory],
            new Dictionary<string, string> { ["HOME"] = "/tmp", ["DOTNET_CLI_HOME"] = "/tmp" });
        int? code = agent.WaitForExit(s_exit);
        Assert.True(code == 77, $"exit {code} (expected 77):\n{agent.Output}");
        Assert.Contains("CAP_BPF", agent.Output, StringComparison.Ordinal);
        Assert.Contains("CAP_PERFMON", agent.Output, StringComparison.Ordinal);
    }

    [KernelFact]
    public void Config_files_others_can_change_are_refused_with_exit_78_naming_the_file()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);

        string set = config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide"));
        File.SetUnixFileMode(set, (UnixFileMode)0x1B6); // 0666
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            int? code = agent.WaitForExit(s_exit);
            Assert.True(code == 78, $"exit {code} (expected 78):\n{agent.Output}");
            Assert.Contains($"{set}: writable by group or others (mode 666)", agent.Output, StringComparison.Ordinal);
        }

        File.SetUnixFileMode(set, (UnixFileMode)0x1A4); // 0644 again
        string agentJson = Path.Combine(config.Directory, "agent.json");
        Chown(agentJson, 65534);
        using (var agent = AgentProcess.StartWithConfig(config))
        {
            int? code = agent.WaitForExit(s_exit);
            Assert.True(code == 78, $"exit {code} (expected 78):\n{agent.Output}");
            Assert.Contains($"{agentJson}: owned by uid 65534, not root", agent.Output, StringComparison.Ordinal);
        }
    }

    [KernelFact]
    public async Task Truncated_and_random_objects_fail_their_sets_clearly_and_the_others_run()
    {
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        byte[] real = File.ReadAllBytes(ReliabilityConfig.FloodObject);
        string truncated = Path.Combine(config.Directory, "truncated.bpf.o");
        File.WriteAllBytes(truncated, real[..100]);
        string random = Path.Combine(config.Directory, "random.bpf.o");
        File.WriteAllBytes(random, new Random(5).GetItems<byte>(Enumerable.Range(0, 256).Select(i => (byte)i).ToArray(), 8192));
        config.AddSet("truncated", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide", objectPath: truncated,
            metrics: """[ { "name": "truncated_samples_total", "type": "counter" } ]"""));
        config.AddSet("random", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide", objectPath: random,
            metrics: """[ { "name": "random_samples_total", "type": "counter" } ]"""));
        config.AddSet("good", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide"));

        using var agent = AgentProcess.StartWithConfig(config);
        (HttpStatusCode status, JsonDocument body) = await AgentHealth.WaitAsync(agent, config.Url);
        using (body)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            Assert.Equal("up", SetStatus(body, "good"));
            foreach ((string set, string path) in new[] { ("truncated", truncated), ("random", random) })
            {
                Assert.Equal("failed", SetStatus(body, set));
                string error = SetError(body, set);
                output.WriteLine($"{set}: {error}");
                Assert.True(error.Contains(path, StringComparison.Ordinal) || error.Contains(Path.GetFileName(path), StringComparison.Ordinal),
                    $"set {set}: the error does not name the object: {error}");
                Assert.True(error.Contains("ELF", StringComparison.OrdinalIgnoreCase) || error.Contains("not a valid", StringComparison.OrdinalIgnoreCase)
                    || error.Contains("invalid", StringComparison.OrdinalIgnoreCase), $"set {set}: the error does not say what is wrong: {error}");
            }
        }

        trigger.Fire(5);
        string text = await MetricSamples.SettleAsync(config.Url, t => RingAccount.Read(t, "good", "wide_events").Delivered >= 5, TimeSpan.FromSeconds(10));
        Assert.Equal(5, RingAccount.Read(text, "good", "wide_events").Delivered);
    }

    [KernelFact]
    public async Task Flood_of_libbpf_log_lines_is_rate_limited_and_counted()
    {
        const int PerSecond = 5;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config, new Dictionary<string, object> { ["LibbpfLogLinesPerSecond"] = PerSecond },
            new Dictionary<string, string> { ["libbpf"] = "Debug" });
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, 1, program: "flood_wide"));

        var sw = Stopwatch.StartNew();
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        string text = await Scrape.MetricsAsync(config.Url);
        double seconds = sw.Elapsed.TotalSeconds;

        double debug = Scrape.Value(text, "bpf_agent_libbpf_log_lines_total", ("level", "debug")) ?? 0;
        double suppressed = Scrape.Value(text, "bpf_agent_libbpf_log_lines_suppressed_total") ?? 0;
        int written = agent.Output.Split('\n').Count(l => l.Contains("] libbpf: ", StringComparison.Ordinal));
        output.WriteLine($"libbpf debug lines {debug}, suppressed {suppressed}, written {written} in {seconds:F1} s");
        Assert.True(debug > 50, $"libbpf logged only {debug} debug lines: no flood");
        Assert.True(suppressed > 0, "no libbpf log line was suppressed");

        // At most PerSecond lines a (limiter) second, plus one summary line a second ("... were dropped"). (The summary of
        // the last second only comes with the next libbpf line, so it is not asserted here.)
        Assert.True(written <= (PerSecond + 1) * (Math.Ceiling(seconds) + 1), $"{written} libbpf lines in {seconds:F1} s:\n{agent.Output}");
    }

    private static string? SetStatus(JsonDocument health, string set) => SetEntry(health, set).GetProperty("status").GetString();

    private static string SetError(JsonDocument health, string set) =>
        SetEntry(health, set).TryGetProperty("error", out JsonElement e) && e.ValueKind == JsonValueKind.String ? e.GetString()! : "";

    private static JsonElement SetEntry(JsonDocument health, string set) =>
        health.RootElement.GetProperty("sets").EnumerateArray().Single(s => s.GetProperty("name").GetString() == set);

    private static void Chown(string path, uint uid)
    {
        byte[] p = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        unsafe
        {
            fixed (byte* b = p)
            {
                Assert.Equal(0, Tmds.Linux.LibC.lchown(b, uid, uid));
            }
        }
    }
}
