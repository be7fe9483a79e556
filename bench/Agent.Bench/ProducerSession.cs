using System.Diagnostics;
using System.Globalization;

namespace BpfAgent.Bench;

internal enum ConsumerKind
{
    Native,
    Transport,
    Full,
}

/// <summary>
/// The producer's trigger process (pinned to the producer CPU) and one consumer process (pinned to the
/// consumer CPU) that loaded the producer object filtered on the trigger's pid.
/// </summary>
internal sealed class ProducerSession : IDisposable
{
    private static readonly TimeSpan s_answer = TimeSpan.FromSeconds(90);
    private readonly BenchSettings _settings;

    private ProducerSession(BenchSettings settings, LineProcess trigger, LineProcess consumer)
    {
        _settings = settings;
        Trigger = trigger;
        Consumer = consumer;
    }

    public LineProcess Trigger { get; }

    public LineProcess Consumer { get; }

    public static string Name(ConsumerKind kind) => kind switch
    {
        ConsumerKind.Native => "native libbpf",
        ConsumerKind.Transport => "agent transport",
        _ => "agent full",
    };

    public static ProducerSession Open(BenchSettings s, ConsumerKind kind, int ringMb, int size, int wakeupMode)
    {
        LineProcess trigger = LineProcess.Start("trigger", s.NativeBench, ["trigger", "--cpu", Str(s.ProducerCpu)]);
        try
        {
            string ready = trigger.ReadLine(TimeSpan.FromSeconds(10));
            string pid = ready.Split("pid=")[1].Trim();
            var common = new List<string>
            {
                "--tgid", pid, "--ring-mb", Str(ringMb), "--burst", Str(s.Burst), "--size", Str(size),
                "--wakeup-mode", Str(wakeupMode), "--threshold", Str(s.Threshold), "--poll-ms", Str(s.PollMs),
            };
            var args = new List<string> { "-c", Str(s.ConsumerCpu) };
            if (kind == ConsumerKind.Native)
            {
                args.AddRange([s.NativeBench, "consume", s.ProducerObject]);
            }
            else
            {
                args.AddRange([BenchSettings.Dotnet, BenchSettings.BenchDll, "agent-consume", "--object", s.ProducerObject,
                    "--pipeline", kind == ConsumerKind.Full ? "full" : "transport", "--batch-bytes", Str(s.BatchBytes)]);
            }

            args.AddRange(common);
            LineProcess consumer = LineProcess.Start(Name(kind), "taskset", args);
            string line = consumer.ReadLine(s_answer);
            if (line != "ready")
            {
                consumer.Dispose();
                throw new InvalidOperationException($"{Name(kind)}: expected ready, got {line}: {consumer.StandardError}");
            }

            return new ProducerSession(s, trigger, consumer);
        }
        catch
        {
            trigger.Dispose();
            throw;
        }
    }

    public ConsumerStats Ask(string command) => ConsumerStats.Parse(Consumer.Ask(command, s_answer));

    public void Start()
    {
        string line = Consumer.Ask("start", s_answer);
        if (line != "started")
        {
            throw new InvalidOperationException($"{Consumer.Name}: {line}");
        }
    }

    /// <summary>Triggers bursts at <paramref name="rate"/> samples/s (0: as fast as the producer core can).</summary>
    public TriggerRun Run(double rate, double seconds, double statsEverySeconds = 0)
    {
        long period = rate <= 0 ? 0 : (long)(_settings.Burst * 1e9 / rate);
        Trigger.Send(string.Create(CultureInfo.InvariantCulture, $"run {period} {seconds}"));
        var samples = new List<(double Seconds, ConsumerStats Stats)>();
        Task<string?> done = Trigger.NextLine();
        var sw = Stopwatch.StartNew();
        if (statsEverySeconds > 0)
        {
            while (!done.Wait(TimeSpan.FromSeconds(statsEverySeconds)))
            {
                samples.Add((sw.Elapsed.TotalSeconds, Ask("stats")));
            }
        }

        return TriggerRun.Parse(Trigger.ReadLine(TimeSpan.FromSeconds(seconds + 60)), samples);
    }

    public TriggerRun Fire(long triggers) =>
        TriggerRun.Parse(Trigger.Ask(string.Create(CultureInfo.InvariantCulture, $"fire {triggers}"), TimeSpan.FromMinutes(5)), []);

    public void Dispose()
    {
        Consumer.Dispose();
        Trigger.Dispose();
    }

    private static string Str(long v) => v.ToString(CultureInfo.InvariantCulture);
}

internal sealed record TriggerRun(long Triggers, long ElapsedNs, IReadOnlyList<(double Seconds, ConsumerStats Stats)> Samples)
{
    public double Seconds => ElapsedNs / 1e9;

    public static TriggerRun Parse(string line, IReadOnlyList<(double, ConsumerStats)> samples)
    {
        // "done triggers=N elapsed_ns=T"
        long Get(string key) => long.Parse(line.Split(' ').First(p => p.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..], CultureInfo.InvariantCulture);
        return new TriggerRun(Get("triggers"), Get("elapsed_ns"), samples);
    }
}
