using System.Globalization;
using BpfAgent.ProgramSets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Systemd;

/// <summary>
/// sd_notify glue beyond what Microsoft.Extensions.Hosting.Systemd does. That package sends READY=1 and
/// STOPPING=1 only when systemd is the parent process; whenever NOTIFY_SOCKET is set otherwise (a supervisor,
/// a test) this sends them itself, after every hosted service started (so READY means "sets loaded").
/// WATCHDOG=1 goes out every WATCHDOG_USEC/2, but only while the poll thread shows progress: a stuck poll
/// thread lets systemd's watchdog restart the agent.
/// </summary>
public sealed class SystemdNotifications(ISystemdNotifier notifier, IHostApplicationLifetime lifetime, ProgramSetManager manager,
    ILogger<SystemdNotifications> logger) : BackgroundService
{
    private static readonly ServiceState s_watchdog = new("WATCHDOG=1");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!notifier.IsEnabled)
        {
            return;
        }

        if (!SystemdHelpers.IsSystemdService())
        {
            lifetime.ApplicationStarted.Register(() => notifier.Notify(ServiceState.Ready));
            lifetime.ApplicationStopping.Register(() => notifier.Notify(ServiceState.Stopping));
        }

        TimeSpan? interval = WatchdogInterval();
        if (interval is null)
        {
            return;
        }

        logger.LogInformation("systemd watchdog every {Interval}", interval);
        using var timer = new PeriodicTimer(interval.Value);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                long age = Environment.TickCount64 - manager.Poller.LastProgressTicks;
                if (manager.Poller.IsRunning && age < interval.Value.TotalMilliseconds * 2)
                {
                    notifier.Notify(s_watchdog);
                }
                else
                {
                    logger.LogWarning("Poll thread shows no progress for {Age} ms: not feeding the watchdog", age);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Half of WATCHDOG_USEC when the watchdog is meant for this process, else null.</summary>
    internal static TimeSpan? WatchdogInterval()
    {
        string? usec = Environment.GetEnvironmentVariable("WATCHDOG_USEC");
        string? pid = Environment.GetEnvironmentVariable("WATCHDOG_PID");
        if (!long.TryParse(usec, NumberStyles.Integer, CultureInfo.InvariantCulture, out long us) || us <= 0)
        {
            return null;
        }

        if (pid is not null && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        return TimeSpan.FromMicroseconds(us / 2.0);
    }
}
