namespace BpfAgent.Bench;

/// <summary>What `make bench` runs and with which sizes and durations (every one a command-line option).</summary>
internal sealed class BenchSettings
{
    public BenchSettings(ArgReader a)
    {
        Root = Path.GetFullPath(a.Find("--root") ?? FindRoot());
        Configuration = a.String("--configuration", "Release");
        Only = (a.Find("--only") ?? "drain,sustained,startstop,kernel,kernel-maps,map-scrape,agent-cpu").Split(',', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        DrainRingMb = a.Int("--drain-ring-mb", 256);
        DrainReps = a.Int("--drain-reps", 5);
        Sizes = (a.Find("--sizes") ?? "48,256").Split(',').Select(int.Parse).ToArray();
        RingMb = a.Int("--ring-mb", 16);
        Burst = a.Int("--burst", 500);
        SustainedSeconds = a.Double("--seconds", 10);
        ProbeSeconds = a.Double("--probe-seconds", 3);
        SweepSteps = a.Int("--sweep-steps", 5);
        WarmupSeconds = a.Double("--warmup-seconds", 2);
        WarmupRate = a.Double("--warmup-rate", 2_000_000);
        WakeupMode = a.Int("--wakeup-mode", 1);
        Threshold = a.Long("--threshold", 64 * 1024);
        PollMs = a.Int("--poll-ms", new Configuration.AgentOptions().PollTimeoutMs);
        BatchBytes = a.Int("--batch-bytes", new Configuration.AgentOptions().BatchBytes);
        StartStopReps = a.Int("--startstop-reps", 3);
        KernelReps = a.Int("--kernel-reps", 3);
        KernelScale = a.Double("--kernel-scale", 1);
        ProducerCpu = a.Int("--producer-cpu", 0);
        ConsumerCpu = a.Int("--consumer-cpu", 1);
    }

    public string Root { get; }

    /// <summary>The agent consumers' Agent:BatchBytes (also the bytes of ring one segment spans at most).</summary>
    public int BatchBytes { get; }

    public string Configuration { get; }

    public HashSet<string> Only { get; }

    public int DrainRingMb { get; }

    public int DrainReps { get; }

    public int[] Sizes { get; }

    public int RingMb { get; }

    public int Burst { get; }

    public double SustainedSeconds { get; }

    public double ProbeSeconds { get; }

    public int SweepSteps { get; }

    public double WarmupSeconds { get; }

    public double WarmupRate { get; }

    /// <summary>The producer's submit policy in the sustained runs (producer.bpf.c: 0 adaptive, 1 threshold, 2 none).</summary>
    public int WakeupMode { get; }

    public long Threshold { get; }

    public int PollMs { get; }

    public int StartStopReps { get; }

    public int KernelReps { get; }

    /// <summary>Multiplies the kernel-cost loop lengths (for a quick run).</summary>
    public double KernelScale { get; }

    public int ProducerCpu { get; }

    public int ConsumerCpu { get; }

    public string ProducerObject => Path.Combine(Root, "build/bench/producer.bpf.o");

    public string NativeBench => Path.Combine(Root, "build/bench/bench-native");

    public string AgentDll => Path.Combine(Root, $"src/Agent/bin/{Configuration}/net10.0/bpf-agent.dll");

    public string ConfigDirectory => Path.Combine(Root, "config");

    public static string Dotnet => Environment.ProcessPath is string p && Path.GetFileNameWithoutExtension(p) == "dotnet" ? p : "dotnet";

    public static string BenchDll => typeof(BenchSettings).Assembly.Location;

    private static string FindRoot()
    {
        for (string? d = Directory.GetCurrentDirectory(); d is not null; d = Path.GetDirectoryName(d))
        {
            if (File.Exists(Path.Combine(d, "Agent.sln")))
            {
                return d;
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
