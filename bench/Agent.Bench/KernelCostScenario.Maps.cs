namespace BpfAgent.Bench;

/// <summary>
/// `--only kernel-maps`: the kernel cost per getppid of the same syscall latency histogram three ways, in one
/// run and by the same method as the shipped sets: the shipped ring-based syscall_latency (one sample per
/// syscall, consumed by the agent's pipeline), programs/syscall_latency_map (the histogram in a per-CPU hash,
/// one map operation per event, LRU start times) and bench/bpf/syscall_latency_exporter_style (ebpf_exporter's
/// way: hash start times inserted and deleted, count and sum buckets each looked up or created).
/// </summary>
internal static partial class KernelCostScenario
{
    public static List<KernelCostResult> RunMapComparison(BenchSettings s, Action<string> log)
    {
        long iterations = (long)(2_000_000 * s.KernelScale);
        Target[] targets =
        [
            new("syscall_latency", "getppid", iterations, "syscall"),
            new("syscall_latency_map", "getppid", iterations, "syscall",
                Path.Combine(s.Root, "build/programs/syscall_latency_map.bpf.o"), IgnoreSelf: true),
            new("syscall_latency_exporter_style", "getppid", iterations, "syscall",
                Path.Combine(s.Root, "build/bench/syscall_latency_exporter_style.bpf.o")),
        ];
        var results = new List<KernelCostResult>();
        foreach (Target t in targets)
        {
            try
            {
                if (t.Object is not null && !File.Exists(t.Object))
                {
                    throw new IOException($"{t.Object} is missing: run `make bpf` and build the bench objects");
                }

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
}
