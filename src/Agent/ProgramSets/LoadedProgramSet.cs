using System.Diagnostics.Metrics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// A program set that is loaded and attached: owns its object, links and ring sources (the meter belongs to the
/// loader, per set name). Dispose detaches and closes; pins stay unless <see cref="Unpin"/> is called.
/// </summary>
public sealed class LoadedProgramSet : IDisposable
{
    private readonly List<BpfLink> _links;

    internal LoadedProgramSet(ProgramSetConfig config, BpfObject obj, List<BpfLink> links, Meter meter,
        IReadOnlyList<RingSource> rings, string? pinDirectory)
    {
        Config = config;
        Object = obj;
        _links = links;
        Meter = meter;
        Rings = rings;
        PinDirectory = pinDirectory;
        DropsMap = obj.TryGetMap(KernelDrops.MapName, out BpfMap drops) && drops.IsPerCpu ? drops : null;
    }

    public ProgramSetConfig Config { get; }

    public string Name => Config.Name;

    public BpfObject Object { get; }

    public Meter Meter { get; }

    public IReadOnlyList<RingSource> Rings { get; }

    public string? PinDirectory { get; }

    /// <summary>The variant of the set's programs chosen for this kernel (<see cref="VariantSelector"/>).</summary>
    public VariantChoice Variant { get; internal init; } = new(VariantChoice.Default, []);

    /// <summary>The object's <c>bpf_agent_drops</c> per-CPU counter, when it follows the convention.</summary>
    public BpfMap? DropsMap { get; }

    /// <summary>Names of the attached programs.</summary>
    public IReadOnlyList<string> AttachedPrograms => _links.Select(l => l.ProgramName).ToList();

    /// <summary>
    /// Samples the kernel side could not reserve: the sum over CPUs of bpf_agent_drops (or 0), plus what earlier
    /// versions of this set counted in drop maps this one does not share (<see cref="KernelDroppedBefore"/>).
    /// </summary>
    public long KernelDropped => KernelDroppedBefore + (DropsMap is BpfMap m && !Object.IsDisposed ? KernelDrops.Read(m) : 0);

    /// <summary>Kernel drops counted by earlier versions of this set (before a reload) in maps that are gone.</summary>
    public long KernelDroppedBefore { get; internal set; }

    /// <summary>Whether <paramref name="other"/> counts kernel drops in the very same (pinned) map as this set.</summary>
    internal bool SharesDropsMapWith(LoadedProgramSet other) =>
        DropsMap is BpfMap mine && other.DropsMap is BpfMap theirs && mine.IsPinned && theirs.IsPinned
        && mine.PinPath is string path && path == theirs.PinPath;

    public List<SampleProcessor> Processors() => Rings.Select(r => r.Processor).ToList();

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
        Object.Dispose(); // not the meter: it is the loader's, and a successor of this set keeps using it
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
