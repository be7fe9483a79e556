using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Pipeline;
using BpfAgent.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// The hosted service of program sets: in <see cref="StartAsync"/> it takes the pin root, loads every set
/// (<see cref="SetReconciler"/>) and starts the ring path (<see cref="SamplePipeline"/>), so systemd's READY=1 (sent
/// once every hosted service started) means "loaded". One set failing does not stop the others; a configuration
/// mistake in a non-optional set stops the agent (status 78). <see cref="ReloadAsync"/> applies a new configuration
/// under one lock. <see cref="StopAsync"/>: stop polling, drain rings and channel, detach, close.
/// </summary>
public sealed class ProgramSetManager : IHostedService, IDisposable
{
    private readonly AgentOptions _options;
    private readonly IReadOnlyList<ProgramSetConfig> _initialConfigs;
    private readonly ProgramSetRegistry _registry;
    private readonly ILogger _logger;
    private readonly SetReconciler _reconciler;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private BpfStatsHandle? _stats;
    private InstanceLock? _instanceLock;

    public ProgramSetManager(AgentOptions options, IReadOnlyList<ProgramSetConfig> configs, ProgramSetRegistry registry,
        Serilog.ILogger serilog, ILogger<ProgramSetManager> logger)
    {
        _options = options;
        _initialConfigs = configs;
        _registry = registry;
        _logger = logger;
        Pipeline = new SamplePipeline(options, logger);
        _reconciler = new SetReconciler(options, registry, new ProgramSetLoader(options, serilog), Pipeline, logger);
    }

    /// <summary>The ring path: poll thread, channel, worker.</summary>
    public SamplePipeline Pipeline { get; }

    public RingBufferPoller Poller => Pipeline.Poller;

    public SampleWorker Worker => Pipeline.Worker;

    public SampleBatchPool Pool => Pipeline.Pool;

    /// <summary>Batches waiting in the channel.</summary>
    public int ChannelDepth => Pipeline.ChannelDepth;

    public IReadOnlyList<RingSource> Rings => Pipeline.Rings;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        TakeInstanceLock();
        if (_options.EnableRunTimeStats)
        {
            try
            {
                _stats = BpfSystem.EnableRunTimeStats();
            }
            catch (BpfException e)
            {
                _logger.LogWarning("BPF run-time statistics are unavailable: {Error}", e.Message);
            }
        }

        var configErrors = new List<ConfigError>();
        _reconciler.LoadInitial(_initialConfigs, configErrors);
        if (configErrors.Count > 0)
        {
            _reconciler.UnloadAll();
            throw new ConfigException(configErrors);
        }

        Pipeline.StartWorker();
        Pipeline.Run(_reconciler.RunningRings());
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            IReadOnlyList<RingSource> rings = Pipeline.Rings;
            await Pipeline.StopAsync(TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds)).ConfigureAwait(false);
            foreach (RingSource r in rings)
            {
                r.Processor.Log?.Flush();
            }

            ShutdownSummary.Log(_logger, _registry);
            _reconciler.UnloadAll();
            _stats?.Dispose();
            _stats = null;
            _instanceLock?.Dispose();
            _instanceLock = null;
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    /// <summary>Applies a new configuration (<see cref="SetReconciler.Reload"/>). Returns false when any set failed.</summary>
    public async Task<bool> ReloadAsync(AgentConfiguration config)
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            return _reconciler.Reload(config);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private void TakeInstanceLock()
    {
        try
        {
            PinDirectory.Prepare(_options.PinRoot, _options.PinRoot);
        }
        catch (Exception e) when (e is PinDirectoryException or IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("Pin root {PinRoot} is unusable, so sets that pin will fail: {Error}", _options.PinRoot, e.Message);
            return;
        }

        _instanceLock = InstanceLock.TryAcquire(_options.PinRoot, out string? problem)
            ?? throw new InvalidOperationException(problem);
    }

    public void Dispose()
    {
        Pipeline.Dispose();
        _reconciler.UnloadAll();
        _stats?.Dispose();
        _instanceLock?.Dispose();
        _reloadLock.Dispose();
    }
}
