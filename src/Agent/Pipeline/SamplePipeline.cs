using System.Threading.Channels;
using BpfAgent.Configuration;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// The ring path between the kernel and the metrics, owned in one place: the poll thread
/// (<see cref="RingBufferPoller"/>), the bounded channel of <see cref="SampleBatch"/>es and their pool, and the
/// <see cref="SampleWorker"/>. It knows rings (<see cref="RingSource"/>), not program sets: whoever loads sets hands it
/// the rings to read with <see cref="Run"/> and takes them back with <see cref="Pause"/>.
/// </summary>
public sealed class SamplePipeline : IDisposable
{
    private readonly Channel<SampleBatch> _channel;
    private readonly CountingChannelWriter<SampleBatch> _written;
    private Task? _workerTask;

    public SamplePipeline(AgentOptions options, ILogger logger)
    {
        _channel = Channel.CreateBounded<SampleBatch>(new BoundedChannelOptions(options.ChannelCapacity)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait, // only TryWrite is used: a full channel refuses, the poller waits or counts the drop
        });
        Pool = new SampleBatchPool(options.BatchBytes);
        _written = new CountingChannelWriter<SampleBatch>(_channel.Writer);
        Poller = new RingBufferPoller(_written, Pool, options.PollTimeoutMs, logger, options.ChannelFullWaitMs)
        {
            BatchFlushMs = options.BatchFlushMs,
            SegmentBytes = SegmentBytesFor(options),
            CopyBytes = options.BatchBytes / 2,
            ChannelDepth = () => ChannelDepth,
            ChannelCapacity = options.ChannelCapacity,
        };
        Worker = new SampleWorker(_channel.Reader, Pool, logger);
    }

    /// <summary>
    /// Bytes of ring one segment spans at most: 16 batches' worth (1 MiB at the default BatchBytes). A segment is read
    /// where it lies, so its size costs no memory; each costs a hand-off between the threads (about 1.7 us: 1.5 ns a
    /// 48-byte sample at 64 KiB segments, 0.1 ns at 1 MiB).
    /// </summary>
    public static int SegmentBytesFor(AgentOptions options) => (int)Math.Min(int.MaxValue / 2, 16L * options.BatchBytes);

    public RingBufferPoller Poller { get; }

    public SampleWorker Worker { get; }

    public SampleBatchPool Pool { get; }

    /// <summary>Batches waiting in the channel.</summary>
    public int ChannelDepth => _channel.Reader.CanCount ? _channel.Reader.Count : 0;

    /// <summary>The rings being read now.</summary>
    public IReadOnlyList<RingSource> Rings { get; private set; } = [];

    /// <summary>
    /// Starts the worker. Before the poll thread: it hands over from its first loop on, and a worker still starting
    /// (cold code on a slow or busy host) would let the channel fill.
    /// </summary>
    public void StartWorker() =>
        _workerTask = Task.Factory.StartNew(Worker.RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    /// <summary>Starts the poll thread over <paramref name="rings"/>.</summary>
    public void Run(RingSource[] rings)
    {
        Rings = rings;
        Poller.Start(rings);
    }

    /// <summary>
    /// Stops the poll thread after its last drain and waits until the worker finished every batch written so far, so
    /// that nothing in flight still refers to a ring about to be closed. <see cref="Run"/> starts it again.
    /// </summary>
    public void Pause(TimeSpan pollerTimeout, TimeSpan workerTimeout)
    {
        Poller.Stop(pollerTimeout);
        long written = _written.Written;
        long deadline = Environment.TickCount64 + (long)workerTimeout.TotalMilliseconds;
        while (Worker.Batches < written && Environment.TickCount64 < deadline)
        {
            Thread.Sleep(1);
        }
    }

    /// <summary>Stops for good: the poll thread's last drain, then the worker finishes the channel, then the ring buffer goes.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        Poller.Stop(timeout / 2);
        _channel.Writer.TryComplete();
        if (_workerTask is not null)
        {
            await Task.WhenAny(_workerTask, Task.Delay(timeout / 2, CancellationToken.None)).ConfigureAwait(false);
        }

        Poller.Dispose(); // the ring buffer goes before the objects whose maps it reads
    }

    public void Dispose() => Poller.Dispose();
}
