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
    private readonly Dictionary<LoadedProgramSet, (long Produced, long Dropped)> _last = [];
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
            (long lastProduced, long lastDropped) = _last.GetValueOrDefault(set);
            _last[set] = (produced, dropped);
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

        foreach (LoadedProgramSet gone in _last.Keys.Where(k => registry.Sets.All(s => s.Loaded != k)).ToList())
        {
            _last.Remove(gone);
        }
    }
}
