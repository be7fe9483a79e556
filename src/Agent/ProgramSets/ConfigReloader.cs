using System.Runtime.InteropServices;
using BpfAgent.Configuration;
using BpfAgent.Metrics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Reloads program sets on SIGHUP (systemctl reload) and, unless Agent:WatchConfigDirectory is off, when a
/// file in the config directory changes (debounced). Each reload is counted by result.
/// </summary>
public sealed class ConfigReloader(ProgramSetManager manager, AgentMetrics metrics, AgentOptions options, ConfigurationSource source,
    ILogger<ConfigReloader> logger) : BackgroundService
{
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using PosixSignalRegistration hup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true; // SIGHUP means reload, not terminate
            logger.LogInformation("SIGHUP: reloading program sets");
            _signal.Release();
        });
        using FileSystemWatcher? watcher = options.WatchConfigDirectory ? Watch() : null;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await _signal.WaitAsync(stoppingToken).ConfigureAwait(false);
                await Task.Delay(100, stoppingToken).ConfigureAwait(false); // let an editor finish writing
                while (_signal.CurrentCount > 0)
                {
                    await _signal.WaitAsync(stoppingToken).ConfigureAwait(false);
                }

                await ReloadOnceAsync().ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Re-reads the configuration and applies it; true when every set loaded.</summary>
    public async Task<bool> ReloadOnceAsync()
    {
        bool ok;
        try
        {
            ok = await manager.ReloadAsync(source.Load()).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            logger.LogError(e, "Reload failed; the running program sets are kept");
            ok = false;
        }

        metrics.CountReload(ok);
        logger.LogInformation("Reload finished: {Result}", ok ? "success" : "failure");
        return ok;
    }

    private FileSystemWatcher? Watch()
    {
        if (!Directory.Exists(options.ConfigDirectory))
        {
            return null;
        }

        var w = new FileSystemWatcher(options.ConfigDirectory)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.LastWrite | NotifyFilters.DirectoryName,
        };
        FileSystemEventHandler changed = (_, e) =>
        {
            if (e.FullPath.EndsWith(".json", StringComparison.Ordinal) || e.FullPath.EndsWith(".yaml", StringComparison.Ordinal))
            {
                _signal.Release();
            }
        };
        w.Changed += changed;
        w.Created += changed;
        w.Deleted += changed;
        // Any rename: a mounted ConfigMap's update renames ..data_tmp over ..data (no *.json name changes), and editors
        // save by renaming (tests/Agent.Tests/ConfigMapReloadTests.cs).
        w.Renamed += (_, e) => _signal.Release();
        w.EnableRaisingEvents = true;
        return w;
    }

    public override void Dispose()
    {
        _signal.Dispose();
        base.Dispose();
    }
}

/// <summary>Reads the configuration again the way it was read at startup (same directory and overrides).</summary>
public sealed class ConfigurationSource(string configDirectory, string[] hostArgs)
{
    public AgentConfiguration Load() => AgentConfiguration.Load(configDirectory, hostArgs);
}
