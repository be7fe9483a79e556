using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// A program set that is loaded and attached: owns its object, links and ring sources (its instruments belong to the
/// manager, per set name). Dispose detaches and closes; pins stay unless <see cref="Unpin"/> is called.
/// </summary>
public sealed class LoadedProgramSet : IDisposable
{
    private readonly List<BpfLink> _links;

    internal LoadedProgramSet(ProgramSetConfig config, BpfObject obj, List<BpfLink> links,
        IReadOnlyList<RingSource> rings, string? pinDirectory, long kernelDropsAtLoad)
    {
        Config = config;
        Object = obj;
        _links = links;
        Rings = rings;
        PinDirectory = pinDirectory;
        DropsMap = FindDropsMap(obj);
        _dropsBaseline = _lastDropsRead = kernelDropsAtLoad;
    }

    public ProgramSetConfig Config { get; }

    public string Name => Config.Name;

    public BpfObject Object { get; }

    public IReadOnlyList<RingSource> Rings { get; }

    /// <summary>The maps read at scrape, with their metrics.</summary>
    public IReadOnlyList<Metrics.Maps.MapSource> Maps { get; init; } = [];

    public string? PinDirectory { get; }

    /// <summary>The cgroup id maps the agent keeps filled for the programs (ebpf_exporter's cgroup_id_map).</summary>
    public IReadOnlyList<CgroupIdMapSync> CgroupIdMaps { get; init; } = [];

    /// <summary>Counters of perf-event-array samples, each polled by its own thread.</summary>
    public IReadOnlyList<Metrics.PerfEvents.PerfEventCounter> PerfCounters { get; init; } = [];

    /// <summary>The variant of the set's programs chosen for this kernel (<see cref="VariantSelector"/>).</summary>
    public VariantChoice Variant { get; internal init; } = new(VariantChoice.Default, []);

    /// <summary>The object's <c>bpf_agent_drops</c> per-CPU counter, when it follows the convention.</summary>
    public BpfMap? DropsMap { get; }

    /// <summary>Names of the attached programs.</summary>
    public IReadOnlyList<string> AttachedPrograms => _links.Select(l => l.ProgramName).ToList();

    /// <summary>
    /// Samples the kernel side could not reserve since this agent started: what bpf_agent_drops (summed over CPUs)
    /// gained since this version loaded, plus what earlier versions of the set counted (<see cref="KernelDroppedBefore"/>).
    /// A pinned drop map outlives the agent, so its value at load is a baseline, not drops of this run: every counter
    /// of a set starts at zero with the agent.
    /// </summary>
    public long KernelDropped
    {
        get
        {
            if (DropsMap is BpfMap m && !Object.IsDisposed)
            {
                _lastDropsRead = KernelDrops.Read(m);
            }

            return KernelDroppedBefore + _lastDropsRead - _dropsBaseline;
        }
    }

    private long _dropsBaseline;
    private long _lastDropsRead;

    /// <summary>Kernel drops counted by earlier versions of this set (before a reload, or before it was removed and added).</summary>
    public long KernelDroppedBefore { get; internal set; }

    /// <summary>The object's drop counter (the bpf_agent.h convention), if it has one.</summary>
    internal static BpfMap? FindDropsMap(BpfObject obj) => obj.TryGetMap(KernelDrops.MapName, out BpfMap drops) && drops.IsPerCpu ? drops : null;


    /// <summary>
    /// Continues the kernel-drop count of <paramref name="previous"/>, now detached. When both count in the same
    /// pinned map, what the map gained while both were attached is already in the previous count.
    /// </summary>
    internal void ContinueKernelDrops(LoadedProgramSet previous)
    {
        if (SharesDropsMapWith(previous))
        {
            // The same map, so the same zero: no read here can fall between the two versions' counts.
            KernelDroppedBefore = previous.KernelDroppedBefore;
            _dropsBaseline = previous._dropsBaseline;
        }
        else
        {
            KernelDroppedBefore = previous.KernelDropped;
        }
    }

    /// <summary>Whether <paramref name="other"/> counts kernel drops in the very same (pinned) map as this set.</summary>
    internal bool SharesDropsMapWith(LoadedProgramSet other) =>
        DropsMap is BpfMap mine && other.DropsMap is BpfMap theirs && mine.IsPinned && theirs.IsPinned
        && mine.PinPath is string path && path == theirs.PinPath;

    public List<SampleProcessor> Processors() => Rings.Select(r => r.Processor).ToList();

    /// <summary>Every metric of every ring of the set.</summary>
    public IEnumerable<Metrics.MetricUpdater> Metrics() => Rings.SelectMany(r => r.Processor.Metrics);

    /// <summary>Every metric of the set, of rings and of maps: what /metrics exports of it.</summary>
    public IEnumerable<object> AllMetrics() => Metrics().Cast<object>().Concat(Maps.SelectMany(m => m.Metrics)).Concat(PerfCounters);

    /// <summary>Removes this set's pins (when the agent is told not to keep them).</summary>
    public void Unpin()
    {
        foreach (BpfMap m in Object.Maps)
        {
            if (m.IsPinned)
            {
                m.Unpin();
            }
        }

        if (PinDirectory is not null && Directory.Exists(PinDirectory) && !Directory.EnumerateFileSystemEntries(PinDirectory).Any())
        {
            Directory.Delete(PinDirectory);
        }
    }

    /// <summary>Detaches the programs (no new samples) but keeps maps and rings open so they can still be drained.</summary>
    public void Detach()
    {
        foreach (BpfLink l in _links)
        {
            l.Dispose();
        }

        _links.Clear();
    }

    public void Dispose()
    {
        Detach();
        foreach (IDisposable d in CgroupIdMaps.Cast<IDisposable>().Concat(PerfCounters))
        {
            d.Dispose();
        }

        Object.Dispose();
    }
}

/// <summary>The drop-counter convention of programs/include/bpf_agent.h.</summary>
public static class KernelDrops
{
    public const string MapName = "bpf_agent_drops";

    public static long Read(BpfMap map)
    {
        Span<ulong> perCpu = stackalloc ulong[Libbpf.PossibleCpuCount];
        if (!map.TryLookupPerCpu(0u, perCpu))
        {
            return 0;
        }

        ulong sum = 0;
        foreach (ulong v in perCpu)
        {
            sum += v;
        }

        return (long)sum;
    }
}
