using BpfAgent.Cli;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests.EbpfExporter;

/// <summary>
/// An ebpf_exporter config written here in its format (tests/Agent.Tests/bpf/exporter_compat.yaml, its object
/// beside it) run unchanged: every decoder ebpf_exporter ships, every bucket type, kaddrs, a two-value counter, the
/// per-CPU cpu label and a counter without labels. The agent's /metrics is compared line for line with what the
/// test computes from the maps themselves; `convert` turns it into a native set that exports the same lines.
/// </summary>
public sealed class ExporterCompatTests
{
    /// <summary>The program counts only getpgid(ArgBase + arg): ebpf_exporter passes a program no parameters.</summary>
    private const int ArgBase = 0x7e570000;

    private static readonly int[] s_args = [0, 1, 2, 3, 5, 8, 37, 64, 100, 999, 1000, 1500, 3000, 9999, 20000, 65535];

    private static string Yaml => ExporterTestSets.Yaml("exporter_compat");

    private static string Install(TestConfig config) => ExporterTestSets.Install(config, "exporter_compat");

    [KernelFact]
    public async Task An_ebpf_exporter_config_exports_exactly_what_its_maps_hold()
    {
        using var config = new TestConfig();
        Install(config);
        using var agent = AgentProcess.StartWithConfig(config);
        string text = await RunWorkloadAsync(config, agent);

        SortedSet<string> expected = ExporterExpectedSeries.Compute(Yaml, map => ReliabilityConfig.PinOf(config, "exporter_compat", map)
            ?? throw new InvalidOperationException($"map {map} is not pinned"));
        SortedSet<string> actual = Lines(text);
        Assert.Equal(string.Join("\n", expected), string.Join("\n", actual));

        // What those lines hold, in ebpf_exporter's names and values (so the comparison above compared something).
        int n = s_args.Length;
        Assert.Equal(n, Sum(text, "ebpf_exporter_compat_events_total"));
        Assert.Equal(n, Sum(text, "ebpf_exporter_compat_syscalls_total", ("syscall", "getpgid")));
        Assert.Equal(s_args.Count(a => a % 3 == 1), Sum(text, "ebpf_exporter_compat_syscalls_total", ("error", "ENOENT")));
        Assert.StartsWith("/", Select(text, "ebpf_exporter_compat_syscalls_total")[0].Label("cgroup"));
        var names = Select(text, "ebpf_exporter_compat_names_total");
        Assert.All(names, s => Assert.Equal(("compat", "zero", "lo"), (s.Label("comm"), s.Label("kind"), s.Label("interface"))));
        Assert.Equal(s_args.Count(a => a % 3 == 0), names.Sum(s => s.Value)); // the regexp left kinds 1 and 2 out
        Assert.Equal(2, Sum(text, "bpf_agent_map_filtered_entries", ("metric", "ebpf_exporter_compat_names_total")));
        Assert.Equal(s_args.Count(a => a % 3 == 0), Sum(text, "ebpf_exporter_compat_addresses_total", ("addr", "127.0.0.1"), ("raw", "deadbeef"), ("name", "example.com")));
        Assert.Equal(n, Sum(text, "ebpf_exporter_compat_pci_total", ("vendor", "Intel Corporation"), ("class", "Network controller")));
        MetricSample stack = Assert.Single(Select(text, "ebpf_exporter_compat_stacks_total"));
        Assert.Equal("schedule", stack.Label("symbol")); // kaddr_schedule held the address of schedule
        Assert.True(stack.Label("kstack").Split('\n').Length >= 2, $"kstack: {stack.Label("kstack")}");
        Assert.Equal(s_args.Sum(a => (double)a), Sum(text, "ebpf_exporter_compat_request_bytes_total"));
        Assert.Equal(n, Sum(text, "ebpf_exporter_compat_percpu_total"));
        Assert.Equal(n, Sum(text, "ebpf_exporter_compat_exp2_seconds_bucket", ("le", "+Inf")));
        Assert.Equal(s_args.Count(a => a <= 16), Sum(text, "ebpf_exporter_compat_exp2_seconds_bucket", ("le", "1.6e-05")));
        Assert.Equal(s_args.Count(a => a <= 1), Sum(text, "ebpf_exporter_compat_exp2_seconds_bucket", ("le", "1e-06")));
        Assert.Equal(s_args.Sum(a => a * 1e-6), Sum(text, "ebpf_exporter_compat_exp2_seconds_sum"), 9);
        Assert.Equal(s_args.Count(a => a % 8 == 0), Sum(text, "ebpf_exporter_compat_exp2zero_bucket", ("le", "0")));
        Assert.Equal(s_args.Count(a => a <= 100), Sum(text, "ebpf_exporter_compat_fixed_bucket", ("le", "0.1")));
        Assert.Equal(s_args.Count(a => a / 1000 <= 2), Sum(text, "ebpf_exporter_compat_linear_bucket", ("le", "2000")));
        string problems = await PrometheusTests.PromtoolAsync(text);
        Assert.True(problems.Length == 0, $"promtool check metrics:\n{problems}");
    }

    [KernelFact]
    public async Task Convert_prints_a_native_set_that_exports_the_same_series()
    {
        string yamlText;
        string json;
        using (var config = new TestConfig())
        {
            string yaml = Install(config);
            using (var agent = AgentProcess.StartWithConfig(config))
            {
                yamlText = await RunWorkloadAsync(config, agent);
            }

            var output = new StringWriter();
            var error = new StringWriter();
            Assert.Equal(0, ConvertCommand.Run(yaml, output, error));
            Assert.Equal("", error.ToString());
            json = output.ToString();
        }

        Assert.Contains("\"field\": \"comm\"", json, StringComparison.Ordinal); // keys named by the BTF fields
        Assert.Contains("\"kaddr_schedule\": \"$kaddr:schedule\"", json, StringComparison.Ordinal);
        using var native = new TestConfig();
        string obj = Path.Combine(native.Directory, "exporter_compat.bpf.o");
        File.Copy(Paths.TestObject("exporter_compat"), obj);
        native.AddSet("exporter_compat", System.Text.RegularExpressions.Regex.Replace(json, "\"object\": \"[^\"]*\"", $"\"object\": \"{obj}\""));
        using var nativeAgent = AgentProcess.StartWithConfig(native);
        string jsonText = await RunWorkloadAsync(native, nativeAgent);

        // Kernel stacks are the one thing two runs may not share (right after attach a tracepoint can still run
        // through __traceiter_sys_enter): the stack series are compared by their totals and symbol, the rest line for line.
        const string stacks = "ebpf_exporter_compat_stacks_total";
        string[] a = [.. Lines(yamlText).Where(l => !l.StartsWith(stacks, StringComparison.Ordinal))];
        string[] b = [.. Lines(jsonText).Where(l => !l.StartsWith(stacks, StringComparison.Ordinal))];
        Assert.True(a.Length > 100 && a.SequenceEqual(b), $"only from the YAML:\n{string.Join("\n", a.Except(b))}\nonly from the JSON:\n{string.Join("\n", b.Except(a))}");
        Assert.Equal(Sum(yamlText, stacks, ("symbol", "schedule")), Sum(jsonText, stacks, ("symbol", "schedule")));
        Assert.Equal(s_args.Length, Sum(jsonText, stacks));
    }

    // Waits for the agent, makes the calls on CPU 0 (per-CPU series then match between runs), returns the settled scrape.
    private static async Task<string> RunWorkloadAsync(TestConfig config, AgentProcess agent)
    {
        await AgentHealth.WaitHealthyAsync(agent, config.Url);
        var worker = new Thread(() =>
        {
            PinToCpu0();
            foreach (int a in s_args)
            {
                _ = Tmds.Linux.LibC.getpgid(ArgBase + a);
            }
        });
        worker.Start();
        worker.Join();
        return await SettleAsync(config.Url, t => Sum(t, "ebpf_exporter_compat_events_total") >= s_args.Length, TimeSpan.FromSeconds(10));
    }

    private static SortedSet<string> Lines(string text) =>
        new(Parse(text).Where(s => s.Name.StartsWith("ebpf_exporter_", StringComparison.Ordinal))
            .Select(s => ExporterExpectedSeries.Line(s.Name, s.Labels, s.Value)), StringComparer.Ordinal);

    private static unsafe void PinToCpu0()
    {
        var mask = default(Tmds.Linux.cpu_set_t);
        new Span<byte>(&mask, sizeof(Tmds.Linux.cpu_set_t)).Clear();
        *(byte*)&mask = 1;
        if (Tmds.Linux.LibC.sched_setaffinity(0, sizeof(Tmds.Linux.cpu_set_t), &mask) != 0)
        {
            throw new InvalidOperationException($"sched_setaffinity failed: errno {Tmds.Linux.LibC.errno}");
        }
    }
}
