using Bpf;
using BpfAgent.Configuration;
using BpfAgent.ProgramSets;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// Variants on the real kernel: the shipped sets choose the fullest variant this kernel has; a variant whose
/// requirement the kernel lacks is passed over with the reason in words, its programs not loaded and its maps not
/// created; the fallback variants count the same events; a set no variant fits says what the kernel lacks, in the
/// log and in <c>bpf-agent check</c>.
/// </summary>
public sealed class VariantTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-variant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Version Kernel
    {
        get
        {
            string[] parts = File.ReadAllText("/proc/sys/kernel/osrelease").Trim().Split('.', '-');
            return new Version(int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private ProgramSetConfig Read(string name, string json)
    {
        string file = Path.Combine(_dir, name + ".json");
        File.WriteAllText(file, json);
        var errors = new List<ConfigError>();
        ProgramSetConfig? set = ProgramSetConfigReader.ReadFile(file, _dir, errors);
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        return set! with { Pinning = new PinningConfig { Enabled = false } };
    }

    private static LoadedProgramSet Load(ProgramSetConfig set, AgentOptions? options = null) =>
        new ProgramSetLoader(options ?? new AgentOptions(), Serilog.Core.Logger.None).Load(set);

    [KernelFact]
    public void The_shipped_sets_choose_the_fullest_variant_this_kernel_has()
    {
        bool has511 = Kernel >= new Version(5, 11), has62 = Kernel >= new Version(6, 2);
        using (LoadedProgramSet s = Load(Read("syscall_latency", ProgramSetJson.SyscallLatency(Environment.ProcessId))))
        {
            Assert.Equal(has511 ? "task_storage" : "hash", s.Variant.Name);
            Assert.Equal(has511 ? ["handle_sys_enter", "handle_sys_exit"] : ["handle_sys_enter_hash", "handle_sys_exit_hash"], s.AttachedPrograms);
            // Only the chosen variant's map exists in the kernel.
            Assert.Equal(has511, s.Object.GetMap("syscall_start").Fd >= 0);
            Assert.Equal(!has511, s.Object.GetMap("syscall_start_by_tid").Fd >= 0);
        }

        using (LoadedProgramSet s = Load(Read("tcp_state", ProgramSetJson.TcpState(TestConfig.FreePort()))))
        {
            Assert.Equal(has62 ? "btf" : "core_read", s.Variant.Name);
            Assert.Equal([has62 ? "handle_inet_sock_set_state" : "handle_inet_sock_set_state_core"], s.AttachedPrograms);
        }
    }

    [KernelFact]
    public void A_variant_the_kernel_lacks_a_feature_for_is_passed_over_with_the_reason_and_left_out_of_the_kernel()
    {
        using LoadedProgramSet s = Load(Read("syscall_latency", ProgramSetJson.SyscallLatency(Environment.ProcessId, variant: "hash")));

        Assert.Equal("hash", s.Variant.Name);
        string reason = Assert.Single(s.Variant.PassedOver);
        Assert.StartsWith("task_storage: the kernel lacks ", reason, StringComparison.Ordinal);
        Assert.Contains("the bpf_agent_test_absent_kfunc kfunc", reason, StringComparison.Ordinal);
        Assert.Equal(["handle_sys_enter_hash", "handle_sys_exit_hash"], s.AttachedPrograms);
        Assert.True(s.Object.GetMap("syscall_start").Fd < 0, "the passed-over variant's task storage map was created");
        Assert.True(s.Object.GetMap("syscall_start_by_tid").Fd >= 0);
        Assert.Equal($"hash (not {reason})", s.Variant.ToString());
    }

    [KernelFact]
    public async Task Both_syscall_latency_variants_count_exactly_the_tests_own_syscalls()
    {
        foreach (string variant in new[] { "task_storage", "hash" })
        {
            if (variant == "task_storage" && Kernel < new Version(5, 11))
            {
                continue;
            }

            const int Calls = 40;
            using var config = new TestConfig();
            config.AddSet("syscall_latency", ProgramSetJson.SyscallLatency(Environment.ProcessId, variant));
            using var agent = AgentProcess.StartWithConfig(config);
            await AgentHealth.WaitHealthyAsync(agent, config.Url);

            for (int i = 0; i < Calls; i++)
            {
                _ = Tmds.Linux.LibC.getppid();
            }

            string text = await SettleAsync(config.Url, t => Sum(t, "syscall_latency_seconds_count", ("syscall", "getppid")) >= Calls, TimeSpan.FromSeconds(10));
            Assert.True(Calls == Sum(text, "syscall_latency_seconds_count", ("syscall", "getppid")), $"{variant}: {Sum(text, "syscall_latency_seconds_count", ("syscall", "getppid"))} getppid latencies of {Calls}");
            Assert.Equal(1, Sum(text, "bpf_agent_set_variant", ("set", "syscall_latency"), ("variant", variant)));
            Assert.Equal(0, Sum(text, "bpf_agent_samples_dropped_total", ("set", "syscall_latency")));
            Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
        }
    }

    [KernelFact]
    public async Task A_set_no_variant_fits_says_what_the_kernel_lacks_in_the_log_in_healthz_and_in_check()
    {
        string json = ProgramSetJson.Edit(ProgramSetJson.SyscallLatency(Environment.ProcessId), root =>
        {
            foreach (System.Text.Json.Nodes.JsonNode? v in root["variants"]!.AsArray())
            {
                v!["requires"] = new System.Text.Json.Nodes.JsonArray("kfunc:bpf_agent_test_absent_kfunc");
            }
        });

        KernelFeatureException e = Assert.Throws<KernelFeatureException>(() => Load(Read("syscall_latency", json)));
        Assert.Matches(@"^program set 'syscall_latency' cannot run on this kernel \(Linux [^)]+\): task_storage: the kernel lacks the bpf_agent_test_absent_kfunc kfunc; hash: the kernel lacks the bpf_agent_test_absent_kfunc kfunc$", e.Message);

        using var config = new TestConfig();
        config.AddSet("syscall_latency", json);
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));
        using var check = AgentProcess.Start(["check", "--config-dir", config.Directory]);
        Assert.Equal(1, check.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains("cannot run on this kernel", check.Output, StringComparison.Ordinal);
        Assert.Contains("hash: the kernel lacks the bpf_agent_test_absent_kfunc kfunc", check.Output, StringComparison.Ordinal);
        Assert.Contains("ok: exec:", check.Output, StringComparison.Ordinal);

        using var agent = AgentProcess.StartWithConfig(config);
        (System.Net.HttpStatusCode status, System.Text.Json.JsonDocument health) = await AgentHealth.WaitAsync(agent, config.Url);
        using (health)
        {
            Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, status);
            Assert.Contains("the kernel lacks the bpf_agent_test_absent_kfunc kfunc", health.RootElement.ToString(), StringComparison.Ordinal);
        }

        Assert.True(await agent.WaitForOutputAsync("cannot run on this kernel", TimeSpan.FromSeconds(5)), agent.Output);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }

    [KernelFact]
    public void Variant_programs_and_maps_the_object_lacks_are_config_errors_naming_the_key()
    {
        string json = ProgramSetJson.Edit(ProgramSetJson.SyscallLatency(Environment.ProcessId), root =>
        {
            root["variants"]![1]!["programs"]![0] = "handle_nothing";
            root["variants"]![1]!["maps"]![0] = "no_map";
        });

        ConfigException e = Assert.Throws<ConfigException>(() => Load(Read("syscall_latency", json)));
        Assert.Contains(e.Errors, x => x.Key == "variants[1].programs[0]" && x.Problem.Contains("'handle_nothing'", StringComparison.Ordinal) && x.Fix.Contains("handle_sys_enter_hash", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.Key == "variants[1].maps[0]" && x.Problem.Contains("'no_map'", StringComparison.Ordinal));
    }

    [KernelFact]
    public async Task Agent_BtfPath_is_what_libbpf_relocates_against_a_copy_of_the_kernels_btf_works_and_a_bad_file_fails()
    {
        string copy = Path.Combine(_dir, "vmlinux.btf");
        File.Copy(KernelBtfPath.Sysfs, copy);
        string bogus = Path.Combine(_dir, "bogus.btf");
        File.WriteAllText(bogus, "not BTF");
        ProgramSetConfig exec = Read("exec", ProgramSetJson.Exec(Environment.ProcessId));

        using (LoadedProgramSet s = Load(exec, new AgentOptions { BtfPath = copy }))
        {
            Assert.Equal(["handle_exec"], s.AttachedPrograms);
        }

        // The path is really used: CO-RE relocation against a file that is not BTF fails the load.
        Assert.Throws<BpfException>(() => Load(exec, new AgentOptions { BtfPath = bogus }));

        // End to end: the agent with Agent:BtfPath counts exactly the test's execs.
        const int Execs = 5;
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(Environment.ProcessId));
        using var agent = AgentProcess.StartWithConfig(config, null, $"--Agent:BtfPath={copy}");
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        TestChildren.Run(TestChildren.True, Execs);
        string text = await SettleAsync(config.Url, t => Sum(t, "exec_events_total", ("comm", "true")) >= Execs, TimeSpan.FromSeconds(10));
        Assert.Equal(Execs, Sum(text, "exec_events_total", ("comm", "true")));
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }
}
