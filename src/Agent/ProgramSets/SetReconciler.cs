using System.Security.Cryptography;
using BpfAgent.Configuration;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Makes the running program sets match a configuration: loads each set (<see cref="ProgramSetLoader"/>), tells
/// changed sets from unchanged ones by fingerprint, and swaps new versions in without losing a sample unaccounted.
/// What a set's versions share (counts, instruments, fingerprints, alarm baselines) is in its <see cref="SetHistory"/>.
/// Not thread-safe: the hosted service (<see cref="ProgramSetManager"/>) calls it under its reload lock.
/// </summary>
public sealed class SetReconciler(AgentOptions options, ProgramSetRegistry registry, ProgramSetLoader loader, SamplePipeline pipeline, ILogger logger)
{
    /// <summary>
    /// Loads the first configuration. A configuration mistake in a set that is not optional is returned in
    /// <paramref name="configErrors"/> (the agent then stops, status 78); any other failure leaves the set out.
    /// </summary>
    public void LoadInitial(IReadOnlyList<ProgramSetConfig> configs, List<ConfigError> configErrors)
    {
        var states = new List<ProgramSetState>();
        foreach (ProgramSetConfig config in configs)
        {
            states.Add(LoadInto(new ProgramSetState(config.Name), config, configErrors));
        }

        registry.Replace(states);
        if (configErrors.Count > 0)
        {
            return;
        }

        foreach (ProgramSetState s in states)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                Instruments(set.Name).Activate(set.AllMetrics());
            }
        }
    }

    /// <summary>The rings of every running set, for the pipeline to read.</summary>
    public RingSource[] RunningRings() =>
        registry.Sets.Where(s => s.Loaded is not null).SelectMany(s => s.Loaded!.Rings).ToArray();

    /// <summary>
    /// Applies a new configuration set by set: a new or changed set is fully loaded and attached before it
    /// replaces the old one; if that fails the old one keeps running. Removed sets are detached and closed
    /// (their pins are kept). Returns false when any set failed.
    /// </summary>
    public bool Reload(AgentConfiguration config)
    {
        bool ok = true;
        foreach (ConfigError e in config.Errors)
        {
            logger.LogError("Reload: configuration error: {Error}", e.ToString());
            ok = false;
        }

        // A set whose file has errors is kept as it runs: a typo must not unload it.
        var broken = config.Errors.Select(e => Path.GetFileNameWithoutExtension(e.File)).ToHashSet(StringComparer.Ordinal);
        Dictionary<string, ProgramSetState> current = registry.Sets.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var next = new List<ProgramSetState>();
        var retire = new List<LoadedProgramSet>();
        bool changed = false;
        foreach (ProgramSetConfig set in config.Sets)
        {
            current.Remove(set.Name, out ProgramSetState? old);
            if (old is { Status: ProgramSetStatus.Up } && registry.History(set.Name).Fingerprint == Fingerprint(set))
            {
                next.Add(old);
                continue;
            }

            var errors = new List<ConfigError>();
            ProgramSetState fresh = LoadInto(new ProgramSetState(set.Name), set, errors, isReload: true);
            if (fresh.Status == ProgramSetStatus.Up)
            {
                changed = true;
                next.Add(fresh);
                if (old?.Loaded is LoadedProgramSet previous)
                {
                    retire.Add(previous);
                }

                logger.LogInformation("Reload: program set {Set} {Action}", set.Name, old is null ? "added" : "replaced");
            }
            else
            {
                ok = false;
                if (old is { Status: ProgramSetStatus.Up })
                {
                    logger.LogError("Reload: program set {Set} failed to load ({Error}); the running version is kept", set.Name, fresh.Error);
                    next.Add(old);
                }
                else
                {
                    next.Add(fresh);
                    changed = true;
                }
            }
        }

        foreach (ProgramSetState gone in current.Values)
        {
            if (broken.Contains(gone.Name))
            {
                next.Add(gone);
                continue;
            }

            changed = true;
            registry.History(gone.Name).Fingerprint = null;
            if (gone.Loaded is LoadedProgramSet loaded)
            {
                retire.Add(loaded);
            }

            logger.LogInformation("Reload: program set {Set} removed", gone.Name);
        }

        if (changed)
        {
            Swap(next, retire);
        }

        return ok;
    }

    /// <summary>
    /// Puts <paramref name="next"/> in place of the running sets without losing a sample unaccounted or showing a
    /// series twice: the retiring sets are detached first (nothing new reaches their rings), the poller's last drain
    /// reads what they wrote, the worker handles every batch written so far, and only then do their successors take
    /// over their counts (metric series, kernel drops) and their instruments, before the poller starts again.
    /// </summary>
    private void Swap(List<ProgramSetState> next, List<LoadedProgramSet> retire)
    {
        var removed = new List<string>();
        foreach (LoadedProgramSet set in retire)
        {
            set.Detach();
        }

        pipeline.Pause(TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds / 2), TimeSpan.FromSeconds(5));
        foreach (LoadedProgramSet set in retire)
        {
            foreach (RingSource ring in set.Rings)
            {
                ring.Retire();
            }

            if (next.FirstOrDefault(s => s.Name == set.Name)?.Loaded is LoadedProgramSet successor && successor != set)
            {
                successor.ContinueKernelDrops(set);
                ContinueMetrics(set, successor);
            }
            else
            {
                registry.History(set.Name).KernelDroppedBefore = set.KernelDropped; // removed: a set of that name added later continues
                removed.Add(set.Name);
            }
        }

        registry.Replace(next);
        foreach (ProgramSetState s in next)
        {
            if (s.Loaded is LoadedProgramSet set && !retire.Contains(set))
            {
                Instruments(set.Name).Activate(set.AllMetrics());
            }
        }

        removed.ForEach(ReleaseInstruments);
        pipeline.Run(RunningRings());
        foreach (LoadedProgramSet set in retire)
        {
            set.Processors().ForEach(p => p.Log?.Flush());
            set.Dispose();
        }
    }

    // A metric of the same name continues its series when kind, labels and buckets allow; otherwise it restarts.
    private void ContinueMetrics(LoadedProgramSet previous, LoadedProgramSet successor)
    {
        var old = new Dictionary<string, MetricUpdater>(StringComparer.Ordinal);
        foreach (MetricUpdater m in previous.Metrics())
        {
            old.TryAdd(m.Config.Name, m);
        }

        foreach (MetricUpdater m in successor.Metrics())
        {
            if (old.TryGetValue(m.Config.Name, out MetricUpdater? before) && before.Labels.SeriesCount > 0
                && m.ContinueFrom(before) == 0)
            {
                logger.LogInformation("Reload: {Set} metric {Metric} changed its kind, labels or buckets; its series start again from zero",
                    successor.Name, m.Config.Name);
            }
        }
    }

    private SetInstruments Instruments(string set)
    {
        SetHistory history = registry.History(set);
        return history.Instruments ??= new SetInstruments(set);
    }

    // The set's series leave /metrics: it was removed, or no version of it runs.
    private void ReleaseInstruments(string set)
    {
        SetHistory history = registry.History(set);
        history.Instruments?.Dispose();
        history.Instruments = null;
    }

    private ProgramSetState LoadInto(ProgramSetState state, ProgramSetConfig config, List<ConfigError> configErrors, bool isReload = false)
    {
        SetHistory history = registry.History(config.Name);
        try
        {
            LoadedProgramSet set = loader.Load(config, history);
            set.KernelDroppedBefore += history.KernelDroppedBefore;
            history.KernelDroppedBefore = 0;
            state.Loaded = set;
            state.Status = ProgramSetStatus.Up;
            history.Fingerprint = Fingerprint(config);
            logger.LogInformation("Program set {Set} is up: {Object}, variant {Variant}, attached {Programs}, rings {Rings}, maps {Maps}",
                config.Name, config.ObjectPath, set.Variant.ToString(), set.AttachedPrograms, set.Rings.Select(r => r.MapName), set.Maps.Select(m => m.MapName));
        }
        catch (ConfigException e) when (!config.Optional && !isReload)
        {
            state.Status = ProgramSetStatus.Failed;
            state.Error = e.Message;
            configErrors.AddRange(e.Errors);
        }
        catch (Exception e)
        {
            state.Status = ProgramSetStatus.Failed;
            state.Error = OneLine(e);
            logger.LogError("Program set {Set} failed to start and is left out: {Error}", config.Name, e.Message);
        }

        if (state.Status != ProgramSetStatus.Up && !registry.Sets.Any(s => s.Name == config.Name && s.Loaded is not null))
        {
            ReleaseInstruments(config.Name); // no version of it runs
        }

        return state;
    }

    /// <summary>Detaches and closes every running set (unpinning them unless pins are kept on exit).</summary>
    public void UnloadAll()
    {
        foreach (ProgramSetState s in registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                try
                {
                    if (!options.KeepPinsOnExit)
                    {
                        set.Unpin();
                    }

                    set.Dispose();
                }
                catch (Exception e)
                {
                    logger.LogError(e, "Unloading program set {Set} failed", s.Name);
                }

                s.Loaded = null;
                ReleaseInstruments(s.Name);
            }
        }
    }

    /// <summary>What identifies a set's version: its config file and its object's bytes.</summary>
    private static string Fingerprint(ProgramSetConfig config)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(config.ToString()));
        foreach (string file in new[] { config.File, config.ObjectPath })
        {
            if (File.Exists(file))
            {
                sha.AppendData(File.ReadAllBytes(file));
            }
        }

        return Convert.ToHexString(sha.GetHashAndReset());
    }

    internal static string OneLine(Exception e)
    {
        string m = e.Message;
        int nl = m.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? m : m[..nl];
    }
}
