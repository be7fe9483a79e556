using System.Threading.Channels;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// The lifecycle of all program sets and the pipeline between them. Sets are loaded, pinned and attached in
/// <see cref="StartAsync"/>, so systemd's READY=1 (sent once every hosted service started) means "loaded".
/// One set failing does not stop the others; a configuration mistake in a non-optional set stops the agent
/// (status 78). <see cref="StopAsync"/>: stop polling, drain rings and channel, detach, close.
/// </summary>
public sealed class ProgramSetManager : IHostedService, IDisposable
{
    private readonly AgentOptions _options;
    private readonly IReadOnlyList<ProgramSetConfig> _configs;
    private readonly ProgramSetRegistry _registry;
    private readonly ProgramSetLoader _loader;
    private readonly ILogger _logger;
    private readonly Channel<SampleBatch> _channel;
    private readonly SampleBatchPool _pool;
    private Task? _workerTask;
    private BpfStatsHandle? _stats;

    public ProgramSetManager(AgentOptions options, IReadOnlyList<ProgramSetConfig> configs, ProgramSetRegistry registry,
        Serilog.ILogger serilog, ILogger<ProgramSetManager> logger)
    {
        _options = options;
        _configs = configs;
        _registry = registry;
        _logger = logger;
        _loader = new ProgramSetLoader(options, serilog);
        _channel = Channel.CreateBounded<SampleBatch>(new BoundedChannelOptions(options.ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // only TryWrite is used: a full channel refuses, the poller counts the drop
        });
        _pool = new SampleBatchPool(options.BatchBytes);
        Poller = new RingBufferPoller(_channel.Writer, _pool, options.PollTimeoutMs, logger);
        Worker = new SampleWorker(_channel.Reader, _pool, logger);
    }

    public RingBufferPoller Poller { get; }

    public SampleWorker Worker { get; }

    public SampleBatchPool Pool => _pool;

    /// <summary>Batches waiting in the channel.</summary>
    public int ChannelDepth => _channel.Reader.CanCount ? _channel.Reader.Count : 0;

    public IReadOnlyList<RingSource> Rings { get; private set; } = [];

    public Task StartAsync(CancellationToken cancellationToken)
    {
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

        var states = _configs.Select(c => new ProgramSetState(c.Name)).ToList();
        _registry.Replace(states);
        var configErrors = new List<ConfigError>();
        for (int i = 0; i < _configs.Count; i++)
        {
            ProgramSetConfig config = _configs[i];
            ProgramSetState state = states[i];
            try
            {
                LoadedProgramSet set = _loader.Load(config);
                state.Loaded = set;
                state.Status = ProgramSetStatus.Up;
                _logger.LogInformation("Program set {Set} is up: {Object}, attached {Programs}, rings {Rings}",
                    config.Name, config.ObjectPath, set.AttachedPrograms, set.Rings.Select(r => r.MapName));
            }
            catch (ConfigException e) when (!config.Optional)
            {
                state.Status = ProgramSetStatus.Failed;
                state.Error = e.Message;
                configErrors.AddRange(e.Errors);
            }
            catch (Exception e)
            {
                state.Status = ProgramSetStatus.Failed;
                state.Error = OneLine(e);
                _logger.LogError("Program set {Set} failed to start and is left out: {Error}", config.Name, e.Message);
            }
        }

        if (configErrors.Count > 0)
        {
            UnloadAll();
            throw new ConfigException(configErrors);
        }

        Rings = states.Where(s => s.Loaded is not null).SelectMany(s => s.Loaded!.Rings).ToArray();
        Poller.Start([.. Rings]);
        _workerTask = Task.Factory.StartNew(Worker.RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds);
        Poller.Stop(timeout / 2);
        _channel.Writer.TryComplete();
        if (_workerTask is not null)
        {
            await Task.WhenAny(_workerTask, Task.Delay(timeout / 2, CancellationToken.None)).ConfigureAwait(false);
        }

        foreach (RingSource r in Rings)
        {
            r.Processor.Log?.Flush();
        }

        UnloadAll();
        _stats?.Dispose();
        _stats = null;
    }

    private void UnloadAll()
    {
        foreach (ProgramSetState s in _registry.Sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                try
                {
                    if (!_options.KeepPinsOnExit)
                    {
                        set.Unpin();
                    }

                    set.Dispose();
                }
                catch (Exception e)
                {
                    _logger.LogError(e, "Unloading program set {Set} failed", s.Name);
                }

                s.Loaded = null;
            }
        }
    }

    internal static string OneLine(Exception e)
    {
        string m = e.Message;
        int nl = m.IndexOf('\n', StringComparison.Ordinal);
        return nl < 0 ? m : m[..nl];
    }

    public void Dispose()
    {
        Poller.Dispose();
        UnloadAll();
        _stats?.Dispose();
    }
}
