namespace BpfAgent.Bench;

internal sealed record DrainResult(ConsumerKind Kind, int Size, long Samples, double NsPerSample, double CpuNsPerSample,
    long ChannelDropped, bool Complete, IReadOnlyList<double> Reps);

internal sealed record SustainedResult(ConsumerKind Kind, double Seconds, ConsumerStats Totals, double ProducedRate, double AttemptedRate,
    double DeliveredRate, double ZeroLossRate, string ZeroLossNote, IReadOnlyList<string> Probes,
    double AllocBytesPerSample, double PeakRssMb, double RssGrowthMb, double CpuNsPerSample);

/// <summary>The drain, sustained and rate-sweep scenarios: the same producer, one consumer at a time.</summary>
internal static class ThroughputScenarios
{
    /// <summary>
    /// Fill a large ring with no consumer running (the producer at full speed with BPF_RB_NO_WAKEUP), then time
    /// the consumer from nothing to everything delivered; repeated after one warm-up drain, median. The pipeline was warmed up first
    /// (a few seconds of streaming), so the agent's code is tiered up as in a daemon's steady state.
    /// </summary>
    public static DrainResult Drain(BenchSettings s, ConsumerKind kind, int size, Action<string> log)
    {
        long ringBytes = (long)s.DrainRingMb * 1024 * 1024;
        // The shipped channel capacity: when the poll thread runs ahead of the worker (they share one core here)
        // it waits for room (AgentOptions.ChannelFullWaitMs) and the ring holds the rest.
        using ProducerSession session = ProducerSession.Open(s, kind, s.DrainRingMb, size, wakeupMode: 2);
        session.Start();
        session.Run(s.WarmupRate, s.WarmupSeconds);
        session.Ask("pause");

        long triggers = ringBytes / ((size + 8L) * s.Burst) + 2;
        var reps = new List<double>();
        var cpu = new List<double>();
        long samples = 0, dropped = 0;
        bool complete = true;
        // One drain more than counted, first, for every consumer alike: the first drain after the streaming warm-up
        // pays for the filled ring's pages and code the streaming did not run (native 9.0 ns against 3.6 after it).
        for (int i = -1; i < s.DrainReps; i++)
        {
            ConsumerStats before = session.Ask("stats");
            session.Fire(triggers);
            ConsumerStats d = session.Ask("drain").Since(before);
            if (i < 0)
            {
                log($"  drain {size} B {ProducerSession.Name(kind)}: warm-up drain, not counted: {(d.Delivered > 0 ? (double)d.WindowCpuNs / d.Delivered : double.NaN):F1} CPU ns/sample");
                continue;
            }

            samples = d.Delivered;
            dropped += d.ChannelDropped;
            complete &= d.Delivered + d.ChannelDropped == d.Produced;
            reps.Add(d.Delivered > 0 ? (double)d.ElapsedNs / d.Delivered : double.NaN);
            // CPU of the consumer's process from the drain's start to its end (the wall clock's window), so that what
            // runs meanwhile in the fill before it (the runtime's background compilation, timers) does not count.
            cpu.Add(d.Delivered > 0 ? (double)d.WindowCpuNs / d.Delivered : double.NaN);
            log($"  drain {size} B {ProducerSession.Name(kind)}: {d.Delivered} samples in {d.ElapsedNs / 1e6:F1} ms = {reps[^1]:F1} ns/sample (cpu {cpu[^1]:F1}), channel drops {d.ChannelDropped}, ring overflow at fill {d.ReserveFailed}");
        }

        return new DrainResult(kind, size, samples, Median(reps), Median(cpu), dropped, complete, reps);
    }

    /// <summary>
    /// One producer core as fast as it goes for the set duration, then (unless that already lost nothing) a
    /// bisection over paced producer rates for the highest rate with zero loss at every stage.
    /// </summary>
    public static SustainedResult Sustained(BenchSettings s, ConsumerKind kind, Action<string> log)
    {
        using ProducerSession session = ProducerSession.Open(s, kind, s.RingMb, 48, s.WakeupMode);
        session.Start();
        session.Run(s.WarmupRate, s.WarmupSeconds);
        session.Ask("pause");

        session.Start();
        ConsumerStats begin = session.Ask("stats");
        TriggerRun run = session.Run(0, s.SustainedSeconds, statsEverySeconds: 1);
        ConsumerStats end = session.Ask("pause");
        ConsumerStats d = end.Since(begin);
        double seconds = run.Seconds;
        double produced = d.Produced / seconds, attempted = (d.Produced + d.ReserveFailed) / seconds, delivered = d.Delivered / seconds;

        // Steady state: from the first stats line at or after 2 s to the end (after the final drain).
        (double _, ConsumerStats steady) = run.Samples.FirstOrDefault(x => x.Seconds >= Math.Min(2, s.SustainedSeconds / 2), (0, begin));
        long steadySamples = end.Delivered - steady.Delivered;
        double allocPerSample = steadySamples > 0 ? (double)(end.AllocBytes - steady.AllocBytes) / steadySamples : double.NaN;
        double rssGrowthMb = (end.RssKb - steady.RssKb) / 1024.0;
        log($"  sustained {ProducerSession.Name(kind)}: produced {d.Produced} ({produced / 1e6:F2} M/s), delivered {d.Delivered}, kernel drops {d.ReserveFailed}, channel drops {d.ChannelDropped}, decode errors {d.DecodeErrors}: {(d.ZeroLoss ? "zero loss" : "LOSS")}{BatchNote(d)}");

        var probes = new List<string>();
        double zeroLoss;
        string note;
        if (d.ZeroLoss)
        {
            zeroLoss = produced;
            note = "producer-bound: all this producer made with this consumer";
        }
        else
        {
            (zeroLoss, note) = Sweep(s, session, attempted, delivered, probes, log);
        }

        return new SustainedResult(kind, seconds, d, produced, attempted, delivered, zeroLoss, note, probes, allocPerSample,
            end.HwmKb / 1024.0, rssGrowthMb, d.Delivered > 0 ? (double)d.CpuNs / d.Delivered : double.NaN);
    }

    private static (double Rate, string Note) Sweep(BenchSettings s, ProducerSession session, double max, double delivered,
        List<string> probes, Action<string> log)
    {
        double pass = 0, fail = max, best = 0;
        double target = Math.Min(max, delivered) * 0.9;
        for (int i = 0; i < s.SweepSteps; i++)
        {
            session.Start();
            ConsumerStats before = session.Ask("stats");
            TriggerRun run = session.Run(target, s.ProbeSeconds);
            ConsumerStats d = session.Ask("pause").Since(before);
            double achieved = d.Produced / run.Seconds;
            string line = $"{target / 1e6:F2} M/s target, {achieved / 1e6:F2} M/s produced: kernel drops {d.ReserveFailed}, channel drops {d.ChannelDropped}, {(d.ZeroLoss ? "zero loss" : "loss")}{BatchNote(d)}";
            probes.Add(line);
            log($"    probe {line}");
            if (d.ZeroLoss)
            {
                pass = target;
                best = Math.Max(best, achieved);
            }
            else
            {
                fail = target;
            }

            target = (pass + fail) / 2;
        }

        return (best, $"bisection, {s.SweepSteps} probes of {s.ProbeSeconds} s");
    }

    private static string BatchNote(ConsumerStats d) => d.Batches > 0 ? $" ({(double)d.Delivered / d.Batches:F0} samples/batch)" : "";

    public static double Median(IReadOnlyList<double> values)
    {
        double[] v = values.Where(x => !double.IsNaN(x)).Order().ToArray();
        return v.Length == 0 ? double.NaN : v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
