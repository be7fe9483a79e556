using BpfAgent.Configuration;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Once a second, compares each set's drops (kernel, channel, decode) with what it produced; above the set's
/// dropAlarmRatio (or Agent:DropAlarmRatio) the set's drop alarm is raised (metric bpf_agent_drop_alarm,
/// /healthz) and a warning is logged, at most every 10 s per set.
/// </summary>
public sealed class DropAlarmMonitor(ProgramSetRegistry registry, AgentOptions options, ILogger<DropAlarmMonitor> logger) : BackgroundService
{
    // By set name: a reloaded set continues its predecessor's counts (RingTotals, KernelDroppedBefore), so the
    // deltas stay right across a reload instead of counting everything since the start as "the last second".
    // Entries are kept when a set goes (one per set name) for the same reason when it comes back.
    private readonly Dictionary<string, (long Produced, long Dropped)> _last = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _lastWarning = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Check();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void Check()
    {
        foreach (ProgramSetState s in registry.Sets)
        {
            if (s.Loaded is not LoadedProgramSet set)
            {
                s.DropAlarm = false;
                continue;
            }

            long kernel, dropped, received;
            try
            {
                kernel = set.KernelDropped;
                received = set.Rings.Sum(r => r.Received);
                dropped = kernel + set.Rings.Sum(r => r.ChannelDropped + r.DecodeErrors);
            }
            catch (ObjectDisposedException)
            {
                continue;
            }

            long produced = received + kernel;
            bool seen = _last.TryGetValue(s.Name, out (long Produced, long Dropped) last);
            _last[s.Name] = (produced, dropped);
            if (!seen)
            {
                continue; // first look: the counts may include drops from before this run (pinned drop counter)
            }

            (long lastProduced, long lastDropped) = last;
            long dp = produced - lastProduced, dd = dropped - lastDropped;
            double threshold = set.Config.DropAlarmRatio ?? options.DropAlarmRatio;
            bool alarm = dp > 0 && dd > 0 && (double)dd / dp > threshold;
            s.DropAlarm = alarm;
            if (alarm && Environment.TickCount64 - _lastWarning.GetValueOrDefault(s.Name, long.MinValue / 2) > 10_000)
            {
                _lastWarning[s.Name] = Environment.TickCount64;
                logger.LogWarning("Program set {Set} dropped {Dropped} of {Produced} samples in the last second ({Ratio:P1}, alarm above {Threshold:P1})",
                    s.Name, dd, dp, (double)dd / dp, threshold);
            }
        }
    }
}
