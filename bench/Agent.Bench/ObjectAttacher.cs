using System.Globalization;
using System.Text;
using Bpf;

namespace BpfAgent.Bench;

/// <summary>
/// `Agent.Bench object-attach --object FILE [--ignore-self]`: loads a BPF object that has no program-set
/// config yet (the in-kernel histogram programs, the ebpf_exporter-style comparison) with the binding alone,
/// attaches all its programs and answers the same "stats-on" / "stats" / "quit" lines as set-consume, so the
/// kernel-cost scenario measures it like a shipped set. Nothing reads its maps meanwhile: their cost is at
/// scrape, not per event. `--ignore-self` sets the object's ignore_tgid to this process, as the agent does.
/// </summary>
internal static class ObjectAttacher
{
    public static int Run(ArgReader a)
    {
        string path = Path.GetFullPath(a.Find("--object") ?? throw new ArgumentException("--object is required"));
        OpenBpfObject open = OpenBpfObject.OpenFile(path);
        if (a.Has("--ignore-self"))
        {
            open.SetGlobal("ignore_tgid", (uint)Environment.ProcessId);
        }

        using BpfObject obj = open.Load();
        IReadOnlyList<BpfLink> links = obj.AttachAll();
        BpfStatsHandle? stats = null;
        Console.Out.WriteLine("ready");
        string? line;
        while ((line = Console.In.ReadLine()) is not null && line.Trim() != "quit")
        {
            if (line.Trim() == "stats-on")
            {
                stats ??= BpfSystem.EnableRunTimeStats();
                Console.Out.WriteLine("stats-on");
            }
            else if (line.Trim() == "stats")
            {
                var sb = new StringBuilder("stats");
                foreach (BpfProgram p in obj.Programs)
                {
                    if (p.Fd >= 0)
                    {
                        BpfProgramInfo info = p.GetInfo();
                        sb.Append(CultureInfo.InvariantCulture, $" {p.Name}.run_cnt={info.RunCount} {p.Name}.run_time_ns={info.RunTimeNanoseconds}");
                    }
                }

                sb.Append(CultureInfo.InvariantCulture, $" map_entries={CountEntries(obj)} kernel_dropped={Drops(obj)}");
                Console.Out.WriteLine(sb.ToString());
            }
        }

        foreach (BpfLink l in links)
        {
            l.Dispose();
        }

        stats?.Dispose();
        return 0;
    }

    // Entries of the object's hash maps (the histograms and start times): a sign the programs ran.
    private static long CountEntries(BpfObject obj)
    {
        long n = 0;
        foreach (BpfMap m in obj.Maps.Where(m => m.Type is BpfMapType.Hash or BpfMapType.PerCpuHash or BpfMapType.LruHash or BpfMapType.LruPerCpuHash))
        {
            var reader = new BpfMapReader(m);
            while (reader.ReadNext() > 0)
            {
            }

            n += reader.PassCount;
        }

        return n;
    }

    private static ulong Drops(BpfObject obj)
    {
        if (!obj.TryGetMap("bpf_agent_drops", out BpfMap drops))
        {
            return 0;
        }

        var perCpu = new ulong[Libbpf.PossibleCpuCount];
        return drops.TryLookupPerCpu(0u, perCpu.AsSpan()) ? perCpu.Aggregate(0UL, (x, y) => x + y) : 0;
    }
}
