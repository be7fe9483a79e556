using System.Diagnostics;
using System.Diagnostics.Metrics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Pipeline;
using BpfAgent.Metrics;
using BpfAgent.ProgramSets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BpfAgent.Bench;

/// <summary>
/// `Agent.Bench agent-consume`: the agent's consumer of the producer's ring: the agent's own
/// <see cref="SamplePipeline"/> (the RingBufferPoller thread, the bounded channel of ring segments, one
/// SampleWorker started LongRunning), fed by the producer object's BTF. It speaks the same stdin/stdout protocol as
/// `bench-native consume`.
/// </summary>
internal static class AgentConsumer
{
    public static int Run(ArgReader a)
    {
        string path = a.Find("--object") ?? throw new ArgumentException("--object is required");
        uint tgid = (uint)a.Long("--tgid", 0);
        int size = a.Int("--size", 48);
        bool full = a.String("--pipeline", "full") == "full";
        var defaults = new AgentOptions();
        int pollMs = a.Int("--poll-ms", defaults.PollTimeoutMs);
        int capacity = a.Int("--channel-capacity", defaults.ChannelCapacity);
        int batchBytes = a.Int("--batch-bytes", defaults.BatchBytes);
        int fullWaitMs = a.Int("--channel-full-wait-ms", defaults.ChannelFullWaitMs);

        BpfObject obj;
        using (OpenBpfObject open = OpenBpfObject.OpenFile(path, new BpfObjectOpenOptions { ObjectName = "bench_producer" }))
        {
            open.SetGlobal("target_tgid", tgid);
            open.SetGlobal("burst", (uint)a.Int("--burst", 500));
            open.SetGlobal("sample_size", (uint)size);
            open.SetGlobal("wakeup_mode", (uint)a.Int("--wakeup-mode", 1));
            open.SetGlobal("wakeup_threshold", (ulong)a.Long("--threshold", 65536));
            OpenBpfMap events = open.GetMap("events");
            events.MaxEntries = a.Int("--ring-mb", 16) * 1024 * 1024;
            obj = open.Load();
        }

        using (obj)
        using (BpfLink link = obj.GetProgram("produce").Attach())
        using (var instruments = new SetInstruments("bench"))
        using (MeterProvider? provider = full ? AgentLikeMeterProvider() : null)
        {
            EventLayout layout = EventLayout.FromBtf(obj.Btf!, size == 256 ? BenchPipeline.LargeStruct : BenchPipeline.SmallStruct);
            SampleProcessor processor = full ? BenchPipeline.Full(layout) : BenchPipeline.Transport(layout);
            instruments.Activate(processor.Metrics);
            var source = new RingSource("bench", obj.GetMap("events"), processor);

            var options = new AgentOptions
            {
                PollTimeoutMs = pollMs,
                ChannelCapacity = capacity,
                BatchBytes = batchBytes,
                ChannelFullWaitMs = fullWaitMs,
            };
            using var pipeline = new SamplePipeline(options, NullLogger.Instance);
            pipeline.StartWorker();
            var session = new Session(obj, source, pipeline.Poller, pipeline.Worker);
            Console.Out.WriteLine("ready");
            string? line;
            while ((line = Console.In.ReadLine()) is not null)
            {
                string cmd = line.Trim();
                if (cmd == "quit")
                {
                    break;
                }

                string? answer = session.Handle(cmd);
                if (answer is not null)
                {
                    Console.Out.WriteLine(answer);
                }
            }

            session.Stop();
            pipeline.StopAsync(TimeSpan.FromSeconds(10)).Wait();
            GC.KeepAlive(link);
        }

        return 0;
    }

    /// <summary>The agent's MeterProvider (AgentHost): its set meters, read by the Prometheus exporter.</summary>
    private static MeterProvider AgentLikeMeterProvider() => Sdk.CreateMeterProviderBuilder()
        .AddMeter(AgentMetricsMeterName, SetInstruments.MeterPrefix + "*")
        .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
        .Build();

    private const string AgentMetricsMeterName = BpfAgent.Metrics.AgentMetrics.MeterName;

    private sealed class Session(BpfObject obj, RingSource source, RingBufferPoller poller, SampleWorker worker)
    {
        private bool _running;

        private long Accounted => source.Delivered + source.ChannelDropped + source.DecodeErrors;

        private long Produced => (long)obj.ReadGlobal<ulong>("produced");

        public string? Handle(string cmd)
        {
            switch (cmd)
            {
                case "start":
                    Start();
                    return "started";
                case "stats":
                    return Stats("stats", 0);
                case "pause":
                    bool ok = WaitCaughtUp(TimeSpan.FromSeconds(3));
                    Stop();
                    return Stats(ok ? "paused" : "paused-timeout", 0);
                case "drain":
                    long produced = Produced;
                    // Clock and CPU count only while the poller runs: building its ring buffer maps the ring (here
                    // 256 MiB, page tables for it three times over) and stopping unmaps it, which the daemon does
                    // once per run; the native consumer's ring_buffer__new is outside its timed drain too.
                    long excludedCpu = ProcessStatus.CpuNanoseconds();
                    Start();
                    long cpu0 = ProcessStatus.CpuNanoseconds();
                    excludedCpu = cpu0 - excludedCpu;
                    long t0 = Stopwatch.GetTimestamp();
                    while (Accounted < produced && Stopwatch.GetElapsedTime(t0) < TimeSpan.FromSeconds(60))
                    {
                        Thread.Sleep(1);
                    }

                    long elapsed = (long)Stopwatch.GetElapsedTime(t0).TotalNanoseconds;
                    long stopCpu = ProcessStatus.CpuNanoseconds();
                    Stop();
                    excludedCpu += ProcessStatus.CpuNanoseconds() - stopCpu;
                    return Stats("drained", elapsed, excludedCpu, windowCpuNs: stopCpu - cpu0);
                default:
                    return "error unknown command " + cmd;
            }
        }

        public void Start()
        {
            if (!_running)
            {
                poller.Start([source]);
                _running = true;
            }
        }

        public void Stop()
        {
            if (_running)
            {
                poller.Stop(TimeSpan.FromSeconds(5));
                _running = false;
                if (poller.Failure is Exception e)
                {
                    Console.Error.WriteLine($"agent-consume: the poll thread failed: {e}");
                }
            }
        }

        private bool WaitCaughtUp(TimeSpan timeout)
        {
            long t0 = Stopwatch.GetTimestamp();
            while (Accounted < Produced)
            {
                if (Stopwatch.GetElapsedTime(t0) > timeout)
                {
                    return false;
                }

                Thread.Sleep(1);
            }

            return true;
        }

        private string Stats(string tag, long elapsedNs, long excludedCpuNs = 0, long windowCpuNs = 0)
        {
            // Managed bytes allocated by every thread but this command thread (whose reads of globals and
            // /proc, and this line, are the benchmark's, not the pipeline's).
            long alloc = GC.GetTotalAllocatedBytes(precise: true) - GC.GetAllocatedBytesForCurrentThread();
            long cpu = ProcessStatus.CpuNanoseconds() - excludedCpuNs;
            return ConsumerStats.Format(tag, Produced, (long)obj.ReadGlobal<ulong>("reserve_failed"), source.Delivered,
                source.ChannelDropped, source.DecodeErrors, alloc, cpu, elapsedNs, ProcessStatus.Kb("VmRSS"), ProcessStatus.Kb("VmHWM"), worker.Batches, windowCpuNs);
        }
    }
}
