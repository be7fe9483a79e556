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

            // The baseline is the set's history, not this version's: a reloaded set continues its predecessor's counts,
            // so the deltas stay right across a reload instead of counting everything since the start as "the last second".
            long produced = received + kernel;
            SetHistory history = registry.History(s.Name);
            (long Produced, long Dropped)? last = history.AlarmLast;
            history.AlarmLast = (produced, dropped);
            if (last is not (long lastProduced, long lastDropped))
            {
                continue; // first look: the counts may include drops from before this run (pinned drop counter)
            }

            long dp = produced - lastProduced, dd = dropped - lastDropped;
            double threshold = set.Config.DropAlarmRatio ?? options.DropAlarmRatio;
            bool alarm = dp > 0 && dd > 0 && (double)dd / dp > threshold;
            s.DropAlarm = alarm;
            if (alarm && Environment.TickCount64 - history.AlarmLastWarning > 10_000)
            {
                history.AlarmLastWarning = Environment.TickCount64;
                logger.LogWarning("Program set {Set} dropped {Dropped} of {Produced} samples in the last second ({Ratio:P1}, alarm above {Threshold:P1})",
                    s.Name, dd, dp, (double)dd / dp, threshold);
            }
        }
    }
}
