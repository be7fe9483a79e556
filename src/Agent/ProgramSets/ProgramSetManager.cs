using System.Security.Cryptography;
using System.Threading.Channels;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using BpfAgent.Security;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BpfAgent.ProgramSets;

/// <summary>
/// The lifecycle of all program sets and the pipeline between them. Sets are loaded, pinned and attached in
/// <see cref="StartAsync"/>, so systemd's READY=1 (sent once every hosted service started) means "loaded".
/// One set failing does not stop the others; a configuration mistake in a non-optional set stops the agent
/// (status 78). <see cref="ReloadAsync"/> replaces changed sets one by one, each fully loaded before the old
/// one goes. <see cref="StopAsync"/>: stop polling, drain rings and channel, detach, close.
/// </summary>
public sealed class ProgramSetManager : IHostedService, IDisposable
{
    private readonly AgentOptions _options;
    private readonly IReadOnlyList<ProgramSetConfig> _initialConfigs;
    private readonly ProgramSetRegistry _registry;
    private readonly ProgramSetLoader _loader;
    private readonly ILogger _logger;
    private readonly Channel<SampleBatch> _channel;
    private readonly CountingChannelWriter<SampleBatch> _written;
    private readonly SemaphoreSlim _reloadLock = new(1, 1);
    private readonly Dictionary<string, string> _fingerprints = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _kernelDroppedBefore = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SetInstruments> _instruments = new(StringComparer.Ordinal);
    private Task? _workerTask;
    private BpfStatsHandle? _stats;
    private InstanceLock? _instanceLock;

    public ProgramSetManager(AgentOptions options, IReadOnlyList<ProgramSetConfig> configs, ProgramSetRegistry registry,
        Serilog.ILogger serilog, ILogger<ProgramSetManager> logger)
    {
        _options = options;
        _initialConfigs = configs;
        _registry = registry;
        _logger = logger;
        _loader = new ProgramSetLoader(options, serilog);
        _channel = Channel.CreateBounded<SampleBatch>(new BoundedChannelOptions(options.ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // only TryWrite is used: a full channel refuses, the poller counts the drop
        });
        Pool = new SampleBatchPool(options.BatchBytes);
        _written = new CountingChannelWriter<SampleBatch>(_channel.Writer);
        Poller = new RingBufferPoller(_written, Pool, options.PollTimeoutMs, logger, options.ChannelFullWaitMs)
        {
            BatchFlushMs = options.BatchFlushMs,
            SegmentBytes = options.BatchBytes,
            ChannelDepth = () => ChannelDepth,
            ChannelCapacity = options.ChannelCapacity,
        };
        Worker = new SampleWorker(_channel.Reader, Pool, logger);
    }

    public RingBufferPoller Poller { get; }

    public SampleWorker Worker { get; }

    public SampleBatchPool Pool { get; }

    /// <summary>Batches waiting in the channel.</summary>
    public int ChannelDepth => _channel.Reader.CanCount ? _channel.Reader.Count : 0;

    public IReadOnlyList<RingSource> Rings { get; private set; } = [];

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

        var states = new List<ProgramSetState>();
        var configErrors = new List<ConfigError>();
        foreach (ProgramSetConfig config in _initialConfigs)
        {
            ProgramSetState state = LoadInto(new ProgramSetState(config.Name), config, configErrors);
            states.Add(state);
        }

        _registry.Replace(states);
        if (configErrors.Count > 0)
        {
            UnloadAll();
            throw new ConfigException(configErrors);
        }

        foreach (ProgramSetState s in states)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                Instruments(set.Name).Activate(set.AllMetrics());
            }
        }

        // The worker first: the poll thread hands over from its first loop on, and a worker still starting (cold
        // code on a slow or busy host) would let the channel fill.
        _workerTask = Task.Factory.StartNew(Worker.RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
        StartPipeline();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _reloadLock.WaitAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var timeout = TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds);
            Poller.Stop(timeout / 2);
            _channel.Writer.TryComplete();
            if (_workerTask is not null)
            {
                await Task.WhenAny(_workerTask, Task.Delay(timeout / 2, CancellationToken.None)).ConfigureAwait(false);
            }

            Poller.Dispose(); // the ring buffer goes before the objects whose maps it reads
            foreach (RingSource r in Rings)
            {
                r.Processor.Log?.Flush();
            }

            ShutdownSummary.Log(_logger, _registry);
            UnloadAll();
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

    /// <summary>
    /// Applies a new configuration set by set: a new or changed set is fully loaded and attached before it
    /// replaces the old one; if that fails the old one keeps running. Removed sets are detached and closed
    /// (their pins are kept). Returns false when any set failed.
    /// </summary>
    public async Task<bool> ReloadAsync(AgentConfiguration config)
    {
        await _reloadLock.WaitAsync().ConfigureAwait(false);
        try
        {
            return Reload(config);
        }
        finally
        {
            _reloadLock.Release();
        }
    }

    private bool Reload(AgentConfiguration config)
    {
        bool ok = true;
        foreach (ConfigError e in config.Errors)
        {
            _logger.LogError("Reload: configuration error: {Error}", e.ToString());
            ok = false;
        }

        // A set whose file has errors is kept as it runs: a typo must not unload it.
        var broken = config.Errors.Select(e => Path.GetFileNameWithoutExtension(e.File)).ToHashSet(StringComparer.Ordinal);
        Dictionary<string, ProgramSetState> current = _registry.Sets.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var next = new List<ProgramSetState>();
        var retire = new List<LoadedProgramSet>();
        bool changed = false;
        foreach (ProgramSetConfig set in config.Sets)
        {
            current.Remove(set.Name, out ProgramSetState? old);
            if (old is { Status: ProgramSetStatus.Up } && _fingerprints.GetValueOrDefault(set.Name) == Fingerprint(set))
            {
                next.Add(old);
                continue;
            }

            var errors = new List<ConfigError>();
            ProgramSetState fresh = LoadInto(new ProgramSetState(set.Name), set, errors, isReload: true);
            if (fresh.Status == ProgramSetStatus.Up)
            {
                changed = true;
                next.Add(fresh);
                if (old?.Loaded is LoadedProgramSet previous)
                {
                    retire.Add(previous);
                }

                _logger.LogInformation("Reload: program set {Set} {Action}", set.Name, old is null ? "added" : "replaced");
            }
            else
            {
                ok = false;
                if (old is { Status: ProgramSetStatus.Up })
                {
                    _logger.LogError("Reload: program set {Set} failed to load ({Error}); the running version is kept", set.Name, fresh.Error);
                    next.Add(old);
                }
                else
                {
                    next.Add(fresh);
                    changed = true;
                }
            }
        }

        foreach (ProgramSetState gone in current.Values)
        {
            if (broken.Contains(gone.Name))
            {
                next.Add(gone);
                continue;
            }

            changed = true;
            _fingerprints.Remove(gone.Name);
            if (gone.Loaded is LoadedProgramSet loaded)
            {
                retire.Add(loaded);
            }

            _logger.LogInformation("Reload: program set {Set} removed", gone.Name);
        }

        if (changed)
        {
            Swap(next, retire);
        }

        return ok;
    }

    /// <summary>
    /// Puts <paramref name="next"/> in place of the running sets without losing a sample unaccounted or showing a
    /// series twice: the retiring sets are detached first (nothing new reaches their rings), the poller's last drain
    /// reads what they wrote, the worker handles every batch written so far, and only then do their successors take
    /// over their counts (metric series, kernel drops) and their instruments, before the poller starts again.
    /// </summary>
    private void Swap(List<ProgramSetState> next, List<LoadedProgramSet> retire)
    {
        var removed = new List<string>();
        foreach (LoadedProgramSet set in retire)
        {
            set.Detach();
        }

        Poller.Stop(TimeSpan.FromSeconds(_options.ShutdownTimeoutSeconds / 2));
        WaitForWorker(TimeSpan.FromSeconds(5));
        foreach (LoadedProgramSet set in retire)
        {
            foreach (RingSource ring in set.Rings)
            {
                ring.Retire();
            }

            if (next.FirstOrDefault(s => s.Name == set.Name)?.Loaded is LoadedProgramSet successor && successor != set)
            {
                successor.ContinueKernelDrops(set);
                ContinueMetrics(set, successor);
            }
            else
            {
                _kernelDroppedBefore[set.Name] = set.KernelDropped; // removed: a set of that name added later continues
                removed.Add(set.Name);
            }
        }

        _registry.Replace(next);
        foreach (ProgramSetState s in next)
        {
            if (s.Loaded is LoadedProgramSet set && !retire.Contains(set))
            {
                Instruments(set.Name).Activate(set.AllMetrics());
            }
        }

        removed.ForEach(ReleaseInstruments);
        StartPipeline();
        foreach (LoadedProgramSet set in retire)
        {
            set.Processors().ForEach(p => p.Log?.Flush());
            set.Dispose();
        }
    }

    // A metric of the same name continues its series when kind, labels and buckets allow; otherwise it restarts.
    private void ContinueMetrics(LoadedProgramSet previous, LoadedProgramSet successor)
    {
        var old = new Dictionary<string, MetricUpdater>(StringComparer.Ordinal);
        foreach (MetricUpdater m in previous.Metrics())
        {
            old.TryAdd(m.Config.Name, m);
        }

        foreach (MetricUpdater m in successor.Metrics())
        {
            if (old.TryGetValue(m.Config.Name, out MetricUpdater? before) && before.Labels.SeriesCount > 0
                && m.ContinueFrom(before) == 0)
            {
                _logger.LogInformation("Reload: {Set} metric {Metric} changed its kind, labels or buckets; its series start again from zero",
                    successor.Name, m.Config.Name);
            }
        }
    }

    private SetInstruments Instruments(string set)
    {
        if (!_instruments.TryGetValue(set, out SetInstruments? instruments))
        {
            _instruments[set] = instruments = new SetInstruments(set);
        }

        return instruments;
    }

    // The set's series leave /metrics: it was removed, or no version of it runs.
    private void ReleaseInstruments(string set)
    {
        if (_instruments.Remove(set, out SetInstruments? instruments))
        {
            instruments.Dispose();
        }
    }

    private ProgramSetState LoadInto(ProgramSetState state, ProgramSetConfig config, List<ConfigError> configErrors, bool isReload = false)
    {
        try
        {
            LoadedProgramSet set = _loader.Load(config);
            if (_kernelDroppedBefore.Remove(config.Name, out long before))
            {
                set.KernelDroppedBefore += before;
            }

            state.Loaded = set;
            state.Status = ProgramSetStatus.Up;
            _fingerprints[config.Name] = Fingerprint(config);
            _logger.LogInformation("Program set {Set} is up: {Object}, variant {Variant}, attached {Programs}, rings {Rings}, maps {Maps}",
                config.Name, config.ObjectPath, set.Variant.ToString(), set.AttachedPrograms, set.Rings.Select(r => r.MapName), set.Maps.Select(m => m.MapName));
        }
        catch (ConfigException e) when (!config.Optional && !isReload)
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

        if (state.Status != ProgramSetStatus.Up && !_registry.Sets.Any(s => s.Name == config.Name && s.Loaded is not null))
        {
            ReleaseInstruments(config.Name); // no version of it runs
        }

        return state;
    }

    private void StartPipeline()
    {
        Rings = _registry.Sets.Where(s => s.Loaded is not null).SelectMany(s => s.Loaded!.Rings).ToArray();
        Poller.Start([.. Rings]);
    }

    // Lets the worker finish every batch written so far: they may refer to sets about to be closed.
    private void WaitForWorker(TimeSpan timeout)
    {
        long written = _written.Written;
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (Worker.Batches < written && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
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

    /// <summary>What identifies a set's version: its config file and its object's bytes.</summary>
    private static string Fingerprint(ProgramSetConfig config)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(config.ToString()));
        foreach (string file in new[] { config.File, config.ObjectPath })
        {
            if (File.Exists(file))
            {
                sha.AppendData(File.ReadAllBytes(file));
            }
        }

        return Convert.ToHexString(sha.GetHashAndReset());
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
                ReleaseInstruments(s.Name);
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
        _instanceLock?.Dispose();
        _reloadLock.Dispose();
    }
}
