using System.Diagnostics.Metrics;
using System.Reflection;
using Bpf;
using BpfAgent.Pipeline;
using BpfAgent.ProgramSets;

namespace BpfAgent.Metrics;

/// <summary>
/// The agent's own metrics (prefix bpf_agent_), observed at scrape time from the registry and the pipeline's
/// counters: nothing here runs per sample.
/// </summary>
public sealed class AgentMetrics : IDisposable
{
    public const string MeterName = "bpf_agent";

    private readonly Meter _meter = new(MeterName);
    private readonly ProgramSetRegistry _registry;
    private readonly ProgramSetManager _manager;
    private long _reloadsOk;
    private long _reloadsFailed;
    private int _lastReloadOk = -1; // -1: no reload yet, so the start decides
    private long _lastReloadSuccessMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(); // the start counts as the first load

    public AgentMetrics(ProgramSetRegistry registry, ProgramSetManager manager, Func<long> libbpfSuppressed, bool runTimeStats = false)
    {
        _registry = registry;
        _manager = manager;
        string version = typeof(AgentMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        string libbpf = $"{Libbpf.MajorVersion}.{Libbpf.MinorVersion}";

        _meter.CreateObservableGauge("bpf_agent_build_info", () => new Measurement<long>(1,
            new("version", version), new("libbpf_version", libbpf), new("kernel", KernelRelease()),
            new("dotnet_version", Environment.Version.ToString())),
            description: "Build information; the value is always 1.");
        _meter.CreateObservableGauge("bpf_agent_program_set_up", SetUp, description: "1 when the program set is loaded and attached, 0 when it failed.");
        _meter.CreateObservableGauge("bpf_agent_set_variant", Variants, description: "1 for the variant of each loaded set's programs chosen for this kernel (\"default\" when the set has one).");
        _meter.CreateObservableGauge("bpf_agent_program_attached", Attached, description: "1 for each attached program of a set.");
        _meter.CreateObservableCounter("bpf_agent_ring_samples_received", () => PerRing(r => r.Received), description: "Samples read from each ring buffer.");
        _meter.CreateObservableCounter("bpf_agent_ring_bytes_received", () => PerRing(r => r.ReceivedBytes), description: "Bytes read from each ring buffer.");
        _meter.CreateObservableCounter("bpf_agent_samples_delivered", () => PerRing(r => r.Delivered), description: "Samples decoded into metrics and logs.");
        _meter.CreateObservableCounter("bpf_agent_samples_dropped", Dropped, description: "Samples lost, by stage: kernel (ring full at reserve), poll (the poll thread failed to hand it over), channel (workers behind), decode.");
        _meter.CreateObservableCounter("bpf_agent_log_write_errors", () => PerRing(r => r.Processor.LogErrors), description: "Event log lines whose write failed (the sample still reached the metrics).");
        _meter.CreateObservableCounter("bpf_agent_decode_errors", () => PerRing(r => r.DecodeErrors), description: "Samples that could not be decoded (shorter than their struct).");
        _meter.CreateObservableGauge("bpf_agent_channel_depth", () => (long)_manager.ChannelDepth, description: "Batches waiting for the workers.");
        _meter.CreateObservableCounter("bpf_agent_libbpf_log_lines", LibbpfLines, description: "Lines libbpf logged, by level.");
        _meter.CreateObservableCounter("bpf_agent_libbpf_log_lines_suppressed", () => libbpfSuppressed(), description: "libbpf log lines not written because of the rate limit.");
        if (runTimeStats)
        {
            // Only while the kernel keeps them: without bpf_enable_stats both stay 0 and would only mislead.
            _meter.CreateObservableCounter("bpf_agent_program_run_count", () => ProgramInfo(i => (double)i.RunCount), description: "Times each BPF program ran (bpf_enable_stats).");
            _meter.CreateObservableCounter("bpf_agent_program_run_time_seconds", () => ProgramInfo(i => i.RunTimeNanoseconds / 1e9), unit: "s", description: "Time spent in each BPF program (bpf_enable_stats).");
        }

        _meter.CreateObservableCounter("bpf_agent_metric_overflow_samples", Overflow, description: "Samples sent to a metric's overflow series because it reached its series limit.");
        _meter.CreateObservableCounter("bpf_agent_metric_filtered_samples", Filtered, description: "Samples a decoder filtered out of a metric (a regexp decoder that matched nothing): not lost, left out by config.");
        _meter.CreateObservableCounter("bpf_agent_decoder_unknown_values", DecoderUnknown, description: "Values a decoder could not name and gave its placeholder for (cgroup ids not found).");
        _meter.CreateObservableCounter("bpf_agent_log_events_suppressed", () => PerRing(r => r.Processor.Log?.Suppressed ?? 0), description: "Event log lines not written because of the rate limit.");
        _meter.CreateObservableCounter("bpf_agent_poll_loops", () => _manager.Poller.Loops, description: "Iterations of the poll thread's loop.");
        _meter.CreateObservableCounter("bpf_agent_config_reloads", Reloads, description: "Configuration reloads, by result.");
        _meter.CreateObservableGauge("bpf_agent_config_last_reload_successful", LastReloadSuccessful,
            description: "1 when the last configuration load or reload applied every set, 0 when any set failed.");
        _meter.CreateObservableGauge("bpf_agent_config_last_reload_success_timestamp_seconds", () => Interlocked.Read(ref _lastReloadSuccessMs) / 1000.0, unit: "s",
            description: "When the configuration was last loaded or reloaded without a failure (Unix time).");
        _meter.CreateObservableGauge("bpf_agent_map_entries", () => PerMap(m => m.Entries), description: "Entries of each map read at scrape, as its last read found them.");
        _meter.CreateObservableGauge("bpf_agent_map_max_entries", () => PerMap(m => m.MaxEntries), description: "The size of each map read at scrape (max_entries): entries over this is map pressure.");
        _meter.CreateObservableGauge("bpf_agent_map_read_seconds", () => PerMap(m => m.LastReadSeconds), unit: "s", description: "How long the last read of each map took.");
        _meter.CreateObservableCounter("bpf_agent_map_read_errors", () => PerMap(m => m.ReadErrors), description: "Reads of a map that failed (the kernel refused, or the set was being unloaded).");
        _meter.CreateObservableCounter("bpf_agent_map_reads_incomplete", () => PerMap(m => m.IncompleteReads), description: "Reads of a map cut short by the time budget: that scrape missed the entries not reached.");
        _meter.CreateObservableGauge("bpf_agent_map_overflow_entries", () => PerMapMetric(m => m.OverflowEntries), description: "Entries of a map metric's last read that went to its overflow series (past maxSeries).");
        _meter.CreateObservableCounter("bpf_agent_perf_events_lost", () => PerPerfCounter(c => c.Lost),
            description: "Samples of a perf-event-array counter the kernel lost (its per-CPU buffer was full).");
        _meter.CreateObservableCounter("bpf_agent_perf_events_filtered", () => PerPerfCounter(c => c.Filtered),
            description: "Samples of a perf-event-array counter a decoder left out (a regexp that matched nothing).");
        _meter.CreateObservableCounter("bpf_agent_perf_events_short", () => PerPerfCounter(c => c.TooShort),
            description: "Samples of a perf-event-array counter shorter than its labels: dropped.");
        _meter.CreateObservableGauge("bpf_agent_map_filtered_entries", () => PerMapMetric(m => m.FilteredEntries),
            description: "Entries of a map metric's last read that a decoder left out (a regexp that matched nothing), as ebpf_exporter leaves them out.");
        _meter.CreateObservableGauge("bpf_agent_drop_alarm", () => _registry.Sets.Select(s => new Measurement<long>(s.DropAlarm ? 1 : 0, new KeyValuePair<string, object?>("set", s.Name))),
            description: "1 while a set's drop ratio is above its configured alarm threshold.");
    }

    public void CountReload(bool ok)
    {
        Interlocked.Increment(ref ok ? ref _reloadsOk : ref _reloadsFailed);
        Volatile.Write(ref _lastReloadOk, ok ? 1 : 0);
        if (ok)
        {
            Interlocked.Exchange(ref _lastReloadSuccessMs, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        }
    }

    private long LastReloadSuccessful()
    {
        int last = Volatile.Read(ref _lastReloadOk);
        return last >= 0 ? last : _registry.Sets.All(s => s.Status == ProgramSetStatus.Up) ? 1 : 0;
    }

    private IEnumerable<Measurement<long>> Reloads() =>
    [
        new(Interlocked.Read(ref _reloadsOk), new KeyValuePair<string, object?>("result", "success")),
        new(Interlocked.Read(ref _reloadsFailed), new KeyValuePair<string, object?>("result", "failure")),
    ];

    private IEnumerable<Measurement<long>> SetUp() =>
        _registry.Sets.Select(s => new Measurement<long>(s.Status == ProgramSetStatus.Up ? 1 : 0, new KeyValuePair<string, object?>("set", s.Name)));

    private IEnumerable<Measurement<long>> Variants() =>
        _registry.Sets.Where(s => s.Loaded is not null).Select(s => new Measurement<long>(1, new("set", s.Name), new("variant", s.Loaded!.Variant.Name)));

    private IEnumerable<Measurement<long>> Attached()
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (string p in set.AttachedPrograms)
                {
                    yield return new Measurement<long>(1, new("set", s.Name), new("program", p));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> PerRing(Func<RingSource, long> value)
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (RingSource r in set.Rings)
                {
                    yield return new Measurement<long>(value(r), new("set", r.SetName), new("ring", r.MapName));
                }
            }
        }
    }

    private IEnumerable<Measurement<T>> PerMap<T>(Func<Maps.MapSource, T> value)
        where T : struct
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (Maps.MapSource m in set.Maps)
                {
                    yield return new Measurement<T>(value(m), new("set", s.Name), new("map", m.MapName));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> PerPerfCounter(Func<PerfEvents.PerfEventCounter, long> value)
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (PerfEvents.PerfEventCounter c in set.PerfCounters)
                {
                    yield return new Measurement<long>(value(c), new("set", s.Name), new("metric", c.Name));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> PerMapMetric(Func<Maps.MapMetric, long> value)
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (Maps.MapMetric m in set.Maps.SelectMany(m => m.Metrics))
                {
                    yield return new Measurement<long>(value(m), new("set", s.Name), new("metric", m.Name));
                }
            }
        }
    }

    private IEnumerable<Measurement<long>> Dropped()
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is not LoadedProgramSet set)
            {
                continue;
            }

            // The kernel counter is per object; it names the ring when the set has only one.
            string kernelRing = set.Rings.Count == 1 ? set.Rings[0].MapName : "*";
            yield return new Measurement<long>(set.KernelDropped, new("set", s.Name), new("ring", kernelRing), new("stage", "kernel"));
            foreach (RingSource r in set.Rings)
            {
                yield return new Measurement<long>(r.ConsumerExceptions, new("set", s.Name), new("ring", r.MapName), new("stage", "poll"));
                yield return new Measurement<long>(r.ChannelDropped, new("set", s.Name), new("ring", r.MapName), new("stage", "channel"));
                yield return new Measurement<long>(r.DecodeErrors, new("set", s.Name), new("ring", r.MapName), new("stage", "decode"));
            }
        }
    }

    private static IEnumerable<Measurement<long>> LibbpfLines() =>
    [
        new(LibbpfLog.WarningLines, new KeyValuePair<string, object?>("level", "warning")),
        new(LibbpfLog.InformationLines, new KeyValuePair<string, object?>("level", "info")),
        new(LibbpfLog.DebugLines, new KeyValuePair<string, object?>("level", "debug")),
    ];

    private IEnumerable<Measurement<double>> ProgramInfo(Func<BpfProgramInfo, double> value)
    {
        var list = new List<Measurement<double>>();
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is not LoadedProgramSet set)
            {
                continue;
            }

            try
            {
                foreach (BpfProgram p in set.Object.Programs)
                {
                    if (p.Fd >= 0)
                    {
                        list.Add(new Measurement<double>(value(p.GetInfo()), new("set", s.Name), new("program", p.Name)));
                    }
                }
            }
            catch (ObjectDisposedException)
            {
                // unloaded while scraping
            }
        }

        return list;
    }

    private IEnumerable<Measurement<long>> Filtered()
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (RingSource r in set.Rings)
                {
                    foreach (MetricUpdater m in r.Processor.Metrics)
                    {
                        yield return new Measurement<long>(m.Labels.FilteredSamples, new("set", s.Name), new("metric", m.Config.Name));
                    }
                }
            }
        }
    }

    private static IEnumerable<Measurement<long>> DecoderUnknown() =>
        BpfAgent.Decoding.DecoderNotices.UnknownCounts.Select(p => new Measurement<long>(p.Value, new KeyValuePair<string, object?>("decoder", p.Key)));

    private IEnumerable<Measurement<long>> Overflow()
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (RingSource r in set.Rings)
                {
                    foreach (MetricUpdater m in r.Processor.Metrics)
                    {
                        yield return new Measurement<long>(m.Labels.OverflowSamples, new("set", s.Name), new("metric", m.Config.Name));
                    }
                }
            }
        }
    }

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return Environment.OSVersion.Version.ToString();
        }
    }

    public void Dispose() => _meter.Dispose();
}
