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

    public AgentMetrics(ProgramSetRegistry registry, ProgramSetManager manager, Func<long> libbpfSuppressed)
    {
        _registry = registry;
        _manager = manager;
        string version = typeof(AgentMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
        string libbpf = $"{Libbpf.MajorVersion}.{Libbpf.MinorVersion}";

        _meter.CreateObservableGauge("bpf_agent_build_info", () => new Measurement<long>(1,
            new("version", version), new("libbpf_version", libbpf), new("dotnet_version", Environment.Version.ToString())),
            description: "Build information; the value is always 1.");
        _meter.CreateObservableGauge("bpf_agent_program_set_up", SetUp, description: "1 when the program set is loaded and attached, 0 when it failed.");
        _meter.CreateObservableGauge("bpf_agent_set_variant", Variants, description: "1 for the variant of each loaded set's programs chosen for this kernel (\"default\" when the set has one).");
        _meter.CreateObservableGauge("bpf_agent_program_attached", Attached, description: "1 for each attached program of a set.");
        _meter.CreateObservableCounter("bpf_agent_ring_samples_received", () => PerRing(r => r.Received), description: "Samples read from each ring buffer.");
        _meter.CreateObservableCounter("bpf_agent_ring_bytes_received", () => PerRing(r => r.ReceivedBytes), description: "Bytes read from each ring buffer.");
        _meter.CreateObservableCounter("bpf_agent_samples_delivered", () => PerRing(r => r.Delivered), description: "Samples decoded into metrics and logs.");
        _meter.CreateObservableCounter("bpf_agent_samples_dropped", Dropped, description: "Samples lost, by stage: kernel (ring full at reserve), channel (workers behind), decode.");
        _meter.CreateObservableCounter("bpf_agent_decode_errors", () => PerRing(r => r.DecodeErrors), description: "Samples that could not be decoded (shorter than their struct).");
        _meter.CreateObservableGauge("bpf_agent_channel_depth", () => (long)_manager.ChannelDepth, description: "Batches waiting for the workers.");
        _meter.CreateObservableCounter("bpf_agent_libbpf_log_lines", LibbpfLines, description: "Lines libbpf logged, by level.");
        _meter.CreateObservableCounter("bpf_agent_libbpf_log_lines_suppressed", () => libbpfSuppressed(), description: "libbpf log lines not written because of the rate limit.");
        _meter.CreateObservableCounter("bpf_agent_program_run_count", () => ProgramInfo(i => (double)i.RunCount), description: "Times each BPF program ran (bpf_enable_stats).");
        _meter.CreateObservableCounter("bpf_agent_program_run_time_seconds", () => ProgramInfo(i => i.RunTimeNanoseconds / 1e9), unit: "s", description: "Time spent in each BPF program (bpf_enable_stats).");
        _meter.CreateObservableCounter("bpf_agent_metric_overflow_samples", Overflow, description: "Samples sent to a metric's overflow series because it reached its series limit.");
        _meter.CreateObservableCounter("bpf_agent_log_events_suppressed", () => PerRing(r => r.Processor.Log?.Suppressed ?? 0), description: "Event log lines not written because of the rate limit.");
        _meter.CreateObservableCounter("bpf_agent_poll_loops", () => _manager.Poller.Loops, description: "Iterations of the poll thread's loop.");
        _meter.CreateObservableCounter("bpf_agent_config_reloads", Reloads, description: "Configuration reloads, by result.");
        _meter.CreateObservableGauge("bpf_agent_drop_alarm", () => _registry.Sets.Select(s => new Measurement<long>(s.DropAlarm ? 1 : 0, new KeyValuePair<string, object?>("set", s.Name))),
            description: "1 while a set's drop ratio is above its configured alarm threshold.");
    }

    public void CountReload(bool ok) => Interlocked.Increment(ref ok ? ref _reloadsOk : ref _reloadsFailed);

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

    public void Dispose() => _meter.Dispose();
}
