using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace BpfAgent.Bench;

/// <summary>
/// `make bench`: every scenario of issue 4 in one run, the native libbpf baseline and the agent's pipeline side
/// by side on the same producer, a table row per scenario with ratios to the baseline of this run, and one last
/// machine-readable line of the key figures.
/// </summary>
internal static class Orchestrator
{
    private static readonly string[] s_header = ["scenario", "consumer", "figure", "value", "vs native"];

    public static int Run(ArgReader a)
    {
        var s = new BenchSettings(a);
        foreach (string f in new[] { s.ProducerObject, s.NativeBench, s.AgentDll })
        {
            if (!File.Exists(f))
            {
                Console.Error.WriteLine($"bench: {f} is missing; run `make bench` (it builds everything first)");
                return 2;
            }
        }

        var total = Stopwatch.StartNew();
        void Log(string line) => Console.Error.WriteLine($"[{total.Elapsed.TotalSeconds,6:F1}s] {line}");
        Log($"bench: producer {s.ProducerObject}, burst {s.Burst}, producer CPU {s.ProducerCpu}, consumer CPU {s.ConsumerCpu}, {Environment.ProcessorCount} CPUs");

        ConsumerKind[] kinds = [ConsumerKind.Native, ConsumerKind.Transport, ConsumerKind.Full];
        var drains = new List<DrainResult>();
        var sustained = new List<SustainedResult>();
        StartStopResult? startStop = null;
        List<KernelCostResult> kernel = [];

        if (s.Only.Contains("drain"))
        {
            Log($"drain: {s.DrainRingMb} MiB ring filled with no consumer, then drained; {s.DrainReps} runs, median");
            foreach (int size in s.Sizes)
            {
                foreach (ConsumerKind k in kinds)
                {
                    drains.Add(ThroughputScenarios.Drain(s, k, size, Log));
                }
            }
        }

        if (s.Only.Contains("sustained"))
        {
            Log($"sustained: producer core at its maximum for {s.SustainedSeconds} s, {s.RingMb} MiB ring, wakeup mode {s.WakeupMode} (threshold {s.Threshold} B), then the zero-loss sweep");
            foreach (ConsumerKind k in kinds)
            {
                sustained.Add(ThroughputScenarios.Sustained(s, k, Log));
            }
        }

        if (s.Only.Contains("startstop"))
        {
            Log("start/stop: the agent with the shipped default config");
            startStop = StartStopScenario.Run(s, Log);
        }

        if (s.Only.Contains("kernel"))
        {
            Log("kernel-side cost of each shipped program");
            kernel = KernelCostScenario.Run(s, Log);
        }

        var agentCpu = new List<AgentCpuResult>();
        if (s.Only.Contains("agent-cpu"))
        {
            Log("agent CPU per event: the ring and the map syscall_latency at one fixed getppid rate");
            agentCpu = AgentCpuScenario.Run(s, Log);
        }

        var mapScrapes = new List<MapScrapeResult>();
        if (s.Only.Contains("map-scrape"))
        {
            Log("map scrape: maps of 1k, 10k and 100k entries");
            mapScrapes = MapScrapeScenario.Run(s, Log);
        }

        if (s.Only.Contains("kernel-maps"))
        {
            Log("kernel-side cost per getppid of one syscall latency histogram: ring, in-kernel map, ebpf_exporter style");
            kernel.AddRange(KernelCostScenario.RunMapComparison(s, Log));
        }

        string report = Report(s, drains, sustained, startStop, kernel, mapScrapes, agentCpu, total.Elapsed);
        Console.Out.Write(report);
        try
        {
            File.WriteAllText(Path.Combine(s.Root, "build/bench/last-run.txt"), report);
        }
        catch (IOException)
        {
        }

        return 0;
    }

    private static string Report(BenchSettings s, List<DrainResult> drains, List<SustainedResult> sustained, StartStopResult? startStop,
        List<KernelCostResult> kernel, List<MapScrapeResult> mapScrapes, List<AgentCpuResult> agentCpu, TimeSpan elapsed)
    {
        var rows = new List<string[]> { s_header };
        foreach (IGrouping<int, DrainResult> g in drains.GroupBy(d => d.Size))
        {
            DrainResult? native = g.FirstOrDefault(d => d.Kind == ConsumerKind.Native);
            foreach (DrainResult d in g)
            {
                string drops = d.ChannelDropped > 0 || !d.Complete ? $", {d.ChannelDropped} dropped" : "";
                rows.Add([$"drain {d.Size} B", ProducerSession.Name(d.Kind), "CPU ns/sample (wall ns/sample)",
                    $"{F(d.CpuNsPerSample, 1)} ({F(d.NsPerSample, 1)}){drops}", Ratio(d.CpuNsPerSample, native?.CpuNsPerSample)]);
            }
        }

        SustainedResult? nativeRun = sustained.FirstOrDefault(r => r.Kind == ConsumerKind.Native);
        foreach (SustainedResult r in sustained)
        {
            ConsumerStats t = r.Totals;
            rows.Add([$"sustained {F(r.Seconds, 0)} s", ProducerSession.Name(r.Kind), "produced/s; delivered; dropped kernel/channel/decode",
                $"{F(r.ProducedRate / 1e6, 2)} M/s; {t.Delivered}; {t.ReserveFailed}/{t.ChannelDropped}/{t.DecodeErrors}; {(t.ZeroLoss ? "zero loss" : "LOSS")}",
                Ratio(r.DeliveredRate, nativeRun?.DeliveredRate)]);
        }

        foreach (SustainedResult r in sustained)
        {
            rows.Add(["zero-loss rate", ProducerSession.Name(r.Kind), $"samples/s ({r.ZeroLossNote})", F(r.ZeroLossRate, 0), Ratio(r.ZeroLossRate, nativeRun?.ZeroLossRate)]);
        }

        foreach (SustainedResult r in sustained)
        {
            rows.Add(["memory (sustained)", ProducerSession.Name(r.Kind), "alloc B/sample; peak RSS; RSS growth after 2 s",
                $"{F(r.AllocBytesPerSample, 3)}; {F(r.PeakRssMb, 1)} MB; {F(r.RssGrowthMb, 1)} MB", Ratio(r.PeakRssMb, nativeRun?.PeakRssMb)]);
        }

        if (startStop is not null)
        {
            rows.Add(["start/stop", "bpf-agent (default config)", "start->READY=1; SIGTERM->exit",
                $"{F(startStop.ReadyMs, 0)} ms; {F(startStop.StopMs, 0)} ms{(startStop.Problem is null ? "" : " (" + startStop.Problem + ")")}", "-"]);
        }

        foreach (AgentCpuResult c in agentCpu)
        {
            rows.Add([$"agent CPU syscall_latency", $"{c.Version} version", $"ns agent CPU/event at {c.EventsPerSecond / 1000:F0}k/s (busy; idle ms)",
                c.Problem ?? $"{F(c.NsPerEvent, 1)} ({F(c.AgentCpuMs, 0)}; {F(c.IdleCpuMs, 0)} ms)", "-"]);
        }

        foreach (MapScrapeResult m in mapScrapes)
        {
            rows.Add([$"map scrape {m.Entries / 1000}k", m.Map, "ms/scrape; B allocated/scrape (/entry)",
                m.Problem ?? $"{F(m.MsPerScrape, 2)}; {F(m.BytesPerScrape, 0)} ({F(m.BytesPerEntry, 3)})", "-"]);
        }

        foreach (KernelCostResult k in kernel)
        {
            rows.Add([$"kernel cost {k.Set}", $"{k.Loop} loop", $"ns/{k.PerWhat}: loop delta; bpf_stats",
                k.Problem ?? $"{F(k.DeltaPerHitNs, 1)}; {F(k.BpfStatsNsPerHit, 1)} ({F(k.WithoutNs, 1)} -> {F(k.WithNs, 1)} ns/iteration, {F(k.HitsPerIteration, 2)} hits/iteration)", "-"]);
        }

        var sb = new StringBuilder();
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"bpf-agent benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} CPUs, {elapsed.TotalSeconds:F0} s");
        int[] widths = Enumerable.Range(0, 5).Select(i => rows.Max(r => r[i].Length)).ToArray();
        for (int i = 0; i < rows.Count; i++)
        {
            sb.AppendLine("| " + string.Join(" | ", rows[i].Select((c, j) => c.PadRight(widths[j]))) + " |");
            if (i == 0)
            {
                sb.AppendLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
            }
        }

        sb.AppendLine();
        // CPU time of the consumer (pinned to one core) per sample: on a quiet machine it equals the wall time;
        // on a shared one it leaves out the time other tenants had the core.
        double Drain(ConsumerKind k) => drains.FirstOrDefault(d => d.Kind == k && d.Size == 48)?.CpuNsPerSample ?? double.NaN;
        double dn = Drain(ConsumerKind.Native), dt = Drain(ConsumerKind.Transport), df = Drain(ConsumerKind.Full);
        SustainedResult? full = sustained.FirstOrDefault(r => r.Kind == ConsumerKind.Full);
        sb.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"drain_ns_native={F(dn, 1)} drain_ns_transport={F(dt, 1)} drain_ns_full={F(df, 1)} drain_ratio_transport={F(dt / dn, 2)} drain_ratio_full={F(df / dn, 2)} ") +
            string.Create(CultureInfo.InvariantCulture,
            $"zero_loss_rate_native={F(nativeRun?.ZeroLossRate ?? double.NaN, 0)} zero_loss_rate_agent={F(full?.ZeroLossRate ?? double.NaN, 0)} ") +
            string.Create(CultureInfo.InvariantCulture,
            $"alloc_bytes_per_sample={F(full?.AllocBytesPerSample ?? double.NaN, 3)} peak_rss_mb={F(full?.PeakRssMb ?? double.NaN, 1)} ") +
            string.Create(CultureInfo.InvariantCulture,
            $"ready_ms={F(startStop?.ReadyMs ?? double.NaN, 0)} stop_ms={F(startStop?.StopMs ?? double.NaN, 0)} ") +
            // The per-sample metric work alone (decode, counter with a string label, histogram): full minus transport in
            // this run, against the whole native consumer's ns per sample in this run.
            string.Create(CultureInfo.InvariantCulture, $"metric_ns={F(df - dt, 1)} metric_ratio={F((df - dt) / dn, 2)}"));
        return sb.ToString();
    }

    private static string F(double v, int decimals) => double.IsNaN(v) || double.IsInfinity(v) ? "nan" : v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);

    private static string Ratio(double v, double? baseline) => baseline is double b && b > 0 && !double.IsNaN(v) ? F(v / b, 2) + "x" : "-";
}
