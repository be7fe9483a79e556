using System.Globalization;

namespace BpfAgent.Bench;

internal sealed record KernelCostResult(string Set, string Loop, string PerWhat, double WithoutNs, double WithNs, double HitsPerIteration,
    double DeltaPerHitNs, double BpfStatsNsPerHit, string? Problem);

/// <summary>
/// The kernel-side cost of each shipped program (ebpf_exporter's method): a tight loop of the hooked call in
/// a native process on the producer CPU, without and with the set loaded and attached by the agent's own
/// ProgramSetLoader from its shipped config (in a child that also consumes the set's ring with the agent's
/// pipeline on the other CPU, and turns on run-time statistics as the agent does by default). Alternated,
/// repeated, medians. The per-program average from bpf_stats (run_time_ns / run_cnt) is given beside it.
/// </summary>
internal static partial class KernelCostScenario
{
    /// <summary>A shipped set (by its config), or with <paramref name="Object"/> an object loaded without config.</summary>
    private sealed record Target(string Set, string Loop, long Iterations, string PerWhat, string? Object = null, bool IgnoreSelf = false);

    public static List<KernelCostResult> Run(BenchSettings s, Action<string> log)
    {
        Target[] targets =
        [
            // exec: sched_process_exec fires once per exec; fork+exec itself costs ~0.5 ms, so the loop delta
            // is within noise and the bpf_stats figure is the one to read.
            new("exec", "spawn", (long)(1500 * s.KernelScale), "exec"),
            new("syscall_latency", "getppid", (long)(2_000_000 * s.KernelScale), "syscall"),
            new("tcp_state", "connect", (long)(20_000 * s.KernelScale), "state change"),
        ];
        var results = new List<KernelCostResult>();
        foreach (Target t in targets)
        {
            if (!File.Exists(Path.Combine(s.ConfigDirectory, "programs.d", t.Set + ".json")))
            {
                continue;
            }

            try
            {
                results.Add(Measure(s, t, log));
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
            {
                log($"  kernel cost {t.Set} failed: {e.Message}");
                results.Add(new KernelCostResult(t.Set, t.Loop, t.PerWhat, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, e.Message));
            }
        }

        return results;
    }

    private static KernelCostResult Measure(BenchSettings s, Target t, Action<string> log)
    {
        var without = new List<double>();
        var with = new List<double>();
        var hits = new List<double>();
        var bpfNs = new List<double>();
        for (int rep = 0; rep < s.KernelReps; rep++)
        {
            without.Add(Loop(s, t));
            string[] child = t.Object is null
                ? ["set-consume", "--config-dir", s.ConfigDirectory, "--set", t.Set]
                : ["object-attach", "--object", t.Object, .. (t.IgnoreSelf ? (string[])["--ignore-self"] : [])];
            using LineProcess set = LineProcess.Start(t.Set, "taskset",
                ["-c", Str(s.ConsumerCpu), BenchSettings.Dotnet, BenchSettings.BenchDll, .. child]);
            string ready = set.ReadLine(TimeSpan.FromSeconds(60));
            if (ready != "ready")
            {
                throw new InvalidOperationException($"{t.Set}: {ready} {set.StandardError}");
            }

            // The loop with the set attached as the agent runs it (run-time statistics off), then once more with
            // statistics on for the programs' own figure (bpf_stats itself adds two clock reads per program run).
            with.Add(Loop(s, t));
            set.Ask("stats-on", TimeSpan.FromSeconds(30));
            Dictionary<string, long> before = ParseStats(set.Ask("stats", TimeSpan.FromSeconds(30)));
            Loop(s, t);
            Dictionary<string, long> after = ParseStats(set.Ask("stats", TimeSpan.FromSeconds(30)));

            // Per program: runs and time during the loop (other processes' events included: noise).
            var programs = after.Keys.Where(k => k.EndsWith(".run_cnt", StringComparison.Ordinal)).Select(k => k[..^8]).ToList();
            double nsPerHit = 0;
            double maxRuns = 0;
            foreach (string p in programs)
            {
                double runs = after[p + ".run_cnt"] - before.GetValueOrDefault(p + ".run_cnt");
                double ns = after[p + ".run_time_ns"] - before.GetValueOrDefault(p + ".run_time_ns");
                if (runs > 0)
                {
                    nsPerHit += ns / runs; // syscall_latency: enter + exit programs, both run once per syscall
                }

                maxRuns = Math.Max(maxRuns, runs);
            }

            hits.Add(t.PerWhat == "state change" ? maxRuns / t.Iterations : 1);
            bpfNs.Add(nsPerHit);
            log($"  kernel cost {t.Set}: {t.Loop} {without[^1]:F1} ns without, {with[^1]:F1} ns with; bpf_stats {nsPerHit:F1} ns/{t.PerWhat}; " +
                $"ring received {after.GetValueOrDefault("received")}, map entries {after.GetValueOrDefault("map_entries")}, kernel drops {after.GetValueOrDefault("kernel_dropped")}");
        }

        double w = ThroughputScenarios.Median(with), wo = ThroughputScenarios.Median(without), h = ThroughputScenarios.Median(hits);
        return new KernelCostResult(t.Set, t.Loop, t.PerWhat, wo, w, h, (w - wo) / Math.Max(h, 1e-9), ThroughputScenarios.Median(bpfNs), null);
    }

    private static double Loop(BenchSettings s, Target t)
    {
        using LineProcess loop = LineProcess.Start("loop", s.NativeBench, ["loop", t.Loop, Str(t.Iterations), "--cpu", Str(s.ProducerCpu)]);
        string line = loop.ReadLine(TimeSpan.FromMinutes(3));
        return double.Parse(line.Split('=')[1], CultureInfo.InvariantCulture);
    }

    private static Dictionary<string, long> ParseStats(string line)
    {
        var d = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (string p in line.Split(' ').Skip(1))
        {
            int eq = p.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                d[p[..eq]] = long.Parse(p[(eq + 1)..], CultureInfo.InvariantCulture);
            }
        }

        return d;
    }

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);
}
