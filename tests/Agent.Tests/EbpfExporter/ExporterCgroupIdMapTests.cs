using System.Buffers.Binary;
using Bpf;
using BpfAgent.Decoding;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests.EbpfExporter;

/// <summary>
/// ebpf_exporter's cgroup_id_map against real cgroups: the agent keeps the map holding the cgroups whose path
/// matches, including ones created after it started, and drops removed ones; the test process moves itself into
/// a matching and a non-matching cgroup, and only its calls from the matching one count as matched, each labelled
/// with its cgroup's path.
/// </summary>
public sealed class ExporterCgroupIdMapTests
{
    private const int ArgBase = 0x7e580000;

    [KernelFact]
    public async Task The_map_follows_matching_cgroups_and_the_program_sees_only_them()
    {
        using var config = new TestConfig();
        ExporterTestSets.Install(config, "exporter_cgroups");
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        string mount = CgroupPaths.FindCgroup2Mount() ?? throw new InvalidOperationException("no cgroup2 mount");
        string home = Path.Combine(mount, File.ReadLines("/proc/self/cgroup").Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..].TrimStart('/'));
        string root = Directory.CreateDirectory(Path.Combine(mount, $"bpf-agent-cgmap-{Environment.ProcessId}")).FullName;
        string match = Directory.CreateDirectory(Path.Combine(root, "match")).FullName;
        string other = Directory.CreateDirectory(Path.Combine(root, "nomatch")).FullName;
        ulong matchId = CgroupPaths.Inode(match)!.Value, otherId = CgroupPaths.Inode(other)!.Value;
        try
        {
            // Created after the agent started: the next walk puts it in the map, and only it.
            await WaitForAsync(() => MapHas(config, matchId), "the matching cgroup never entered cgroup_id_map");
            Assert.False(MapHas(config, otherId), "a cgroup that does not match is in the map");

            RunIn(match, 3);
            RunIn(other, 2);
            string text = await SettleAsync(config.Url, t => Sum(t, "ebpf_exporter_cgroup_calls_total") >= 5, TimeSpan.FromSeconds(10));
            Assert.Equal(3, Sum(text, "ebpf_exporter_cgroup_calls_total", ("cgroup", match)));
            Assert.Equal(2, Sum(text, "ebpf_exporter_cgroup_calls_total", ("cgroup", other)));
            MetricSample matched = Assert.Single(Select(text, "ebpf_exporter_cgroup_matched_total"));
            Assert.Equal((match, 3.0), (matched.Label("cgroup"), matched.Value));
        }
        finally
        {
            File.WriteAllText(Path.Combine(home, "cgroup.procs"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.Delete(match);
            Directory.Delete(other);
            Directory.Delete(root);
        }

        await WaitForAsync(() => !MapHas(config, matchId), "a removed cgroup stayed in cgroup_id_map");
    }

    // Moves this process into the cgroup, makes the calls there, and moves it back.
    private static void RunIn(string cgroup, int calls)
    {
        string home = File.ReadLines("/proc/self/cgroup").Single(l => l.StartsWith("0::", StringComparison.Ordinal))[3..];
        string mount = CgroupPaths.FindCgroup2Mount()!;
        File.WriteAllText(Path.Combine(cgroup, "cgroup.procs"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        try
        {
            for (int i = 0; i < calls; i++)
            {
                _ = Tmds.Linux.LibC.getpgid(ArgBase + i);
            }
        }
        finally
        {
            File.WriteAllText(Path.Combine(mount + home, "cgroup.procs"), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static bool MapHas(TestConfig config, ulong id)
    {
        using PinnedBpfMap map = PinnedBpfMap.Open(ReliabilityConfig.PinOf(config, "exporter_cgroups", "cgroup_id_map")!);
        var reader = new BpfMapReader(map);
        int n;
        while ((n = reader.ReadNext()) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                if (BinaryPrimitives.ReadUInt64LittleEndian(reader.GetKey(i)) == id)
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static async Task WaitForAsync(Func<bool> condition, string failure)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(100);
        }
    }
}
