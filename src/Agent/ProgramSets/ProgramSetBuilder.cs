using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Metrics.PerfEvents;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Loads a checked <see cref="ProgramSetPlan"/> into the kernel: pin paths (each map's name with its schema's hash,
/// incompatible old pins resolved), load, cgroup id maps and perf counters started before the programs run, attach,
/// and the ring sources and scrape-time maps of the running set. Throws <see cref="BpfException"/> for kernel
/// refusals, and undoes what it did.
/// </summary>
public sealed class ProgramSetBuilder(AgentOptions options, Serilog.ILogger eventLogger)
{
    /// <summary>Builds the set; its rings continue the counts of <paramref name="history"/>.</summary>
    public LoadedProgramSet Build(ProgramSetPlan plan, SetHistory history)
    {
        ProgramSetConfig config = plan.Config;
        OpenBpfObject open = plan.Open;
        string? pinDirectory = null;
        if (config.Pinning.Enabled)
        {
            pinDirectory = Path.Combine(options.PinRoot, config.Name);
            PinDirectory.Prepare(options.PinRoot, pinDirectory);
            foreach (OpenBpfMap map in open.Maps)
            {
                if (!map.Name.Contains('.', StringComparison.Ordinal))
                {
                    map.PinPath = Path.Combine(pinDirectory, $"{map.Name}-{MapSchema.Hash(open, map)}"); // bpffs refuses '.' in names
                }
            }

            PinDirectory.ResolveIncompatible(pinDirectory, open.Maps.Where(m => m.PinPath is not null).Select(m => m.PinPath!),
                config.Pinning.ReplaceIncompatible, eventLogger, config.Name);
        }

        BpfObject obj = open.Load();
        plan.StackMaps.Attach(obj);
        var links = new List<BpfLink>();
        List<CgroupIdMapSync> cgroupIdMaps = [];
        var perfCounters = new List<PerfEventCounter>();
        try
        {
            cgroupIdMaps = CgroupIdMapSync.Start(config, obj); // filled before the programs run
            perfCounters.AddRange(plan.PerfCounters.Select(p => PerfEventCounter.Start(p.Counter, p.Labels, obj)));

            // Before attach: a pinned drop counter carries earlier runs' drops, which are not this run's.
            long kernelDropsAtLoad = LoadedProgramSet.FindDropsMap(obj) is BpfMap drops ? KernelDrops.Read(drops) : 0;
            foreach (BpfProgram p in obj.Programs)
            {
                if (p.Fd >= 0 && (config.Programs?.Contains(p.Name) ?? p.AutoAttach))
                {
                    links.Add(p.Attach());
                }
            }

            var rings = plan.Rings.Select(r => new RingSource(config.Name, obj.GetMap(r.Ring.Map), r.Processor, history.Ring(r.Ring.Map))).ToList();
            var maps = plan.Maps.Select(p => p.Build(config.Name, obj)).ToList();
            return new LoadedProgramSet(config, obj, links, rings, pinDirectory, kernelDropsAtLoad)
            {
                Maps = maps, Variant = plan.Variant, CgroupIdMaps = cgroupIdMaps, PerfCounters = perfCounters,
            };
        }
        catch
        {
            foreach (IDisposable d in cgroupIdMaps.Cast<IDisposable>().Concat(perfCounters))
            {
                d.Dispose();
            }

            foreach (BpfLink l in links)
            {
                l.Dispose();
            }

            obj.Dispose();
            throw;
        }
    }
}
