using System.Threading.Channels;
using Bpf;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// The one dedicated thread that drives ring_buffer__poll over every configured ring (one libbpf ring_buffer,
/// rings added with ring_buffer__add), consumes on every timeout too (producers using BPF_RB_NO_WAKEUP never
/// wake a poll), and hands batches to the channel.
/// </summary>
public sealed class RingBufferPoller : IDisposable
{
    private readonly ChannelWriter<SampleBatch> _channel;
    private readonly SampleBatchPool _pool;
    private readonly int _pollTimeoutMs;
    private readonly ILogger _logger;
    private readonly int _channelFullWaitMs;
    private Thread? _thread;
    private RingBuffer? _ringBuffer;
    private BatchWriter? _writer;
    private volatile bool _stop;
    private long _drainUntil;
    private long _progressTicks = Environment.TickCount64;
    private long _loops;

    public RingBufferPoller(ChannelWriter<SampleBatch> channel, SampleBatchPool pool, int pollTimeoutMs, ILogger logger, int channelFullWaitMs = 0)
    {
        _channelFullWaitMs = channelFullWaitMs;
        _channel = channel;
        _pool = pool;
        _pollTimeoutMs = pollTimeoutMs;
        _logger = logger;
    }

    /// <summary>
    /// Whether a consumer should end the current poll: on stop, except during the final drain, which may run for
    /// at most <see cref="FinalDrainMilliseconds"/> (a producer faster than the consumer would keep it going forever).
    /// </summary>
    public bool StopRequested => _stop && (_drainUntil == 0 || Environment.TickCount64 > _drainUntil);

    /// <summary>How long the final drain on stop may take.</summary>
    public const int FinalDrainMilliseconds = 1000;

    public bool IsRunning => _thread is { IsAlive: true };

    /// <summary>Environment.TickCount64 of the last sign of life of the poll loop.</summary>
    public long LastProgressTicks => Interlocked.Read(ref _progressTicks);

    /// <summary>Poll loop iterations so far.</summary>
    public long Loops => Interlocked.Read(ref _loops);

    public Exception? Failure { get; private set; }

    /// <summary>Longest a partly filled batch waits for more samples (ms).</summary>
    public int BatchFlushMs { get; init; } = 100;

    /// <summary>Batches in the channel now, and how many it holds: a part-full batch goes early only while it is emptyish.</summary>
    public Func<int> ChannelDepth { get; init; } = () => 0;

    public int ChannelCapacity { get; init; } = int.MaxValue;

    internal void MarkProgress() => Interlocked.Exchange(ref _progressTicks, Environment.TickCount64);

    /// <summary>Builds the ring buffer over <paramref name="rings"/> and starts the poll thread.</summary>
    public void Start(RingSource[] rings)
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("The poller is already running.");
        }

        _stop = false;
        _writer = new BatchWriter(_channel, _pool, _channelFullWaitMs) { Rings = rings };
        if (rings.Length > 0)
        {
            _ringBuffer = new RingBuffer(rings[0].Map, new BatchingConsumer(0, _writer, this));
            for (int i = 1; i < rings.Length; i++)
            {
                _ringBuffer.Add(rings[i].Map, new BatchingConsumer(i, _writer, this));
            }

            for (int i = 0; i < rings.Length; i++)
            {
                rings[i].Statistics = _ringBuffer.Rings[i];
            }
        }

        MarkProgress();
        _thread = new Thread(Run) { Name = "bpf-poll", IsBackground = true };
        _thread.Start();
    }

    /// <summary>
    /// Stops polling, consumes what the rings still hold, flushes the last batch and frees the ring buffer.
    /// Does not complete the channel (a reload starts the poller again on the same channel).
    /// </summary>
    public void Stop(TimeSpan timeout)
    {
        _stop = true;
        if (_thread is not null && !_thread.Join(timeout))
        {
            _logger.LogError("The poll thread did not stop within {Timeout}", timeout);
        }

        _thread = null;
        _ringBuffer?.Dispose();
        _ringBuffer = null;
    }

    private void Run()
    {
        RingBuffer? rb = _ringBuffer;
        BatchWriter writer = _writer!;
        try
        {
            while (!_stop)
            {
                int consumed = 0;
                if (rb is null)
                {
                    Thread.Sleep(_pollTimeoutMs);
                }
                else
                {
                    consumed = rb.Poll(_pollTimeoutMs);
                    if (!_stop)
                    {
                        consumed += rb.Consume();
                    }
                }

                // A partly filled batch goes out when the rings are quiet only while the channel is nearly empty (the
                // worker keeps up, so an early hand-off costs nothing); otherwise it waits to fill for up to
                // BatchFlushMs. The channel is bounded in batches: a low-rate ring flushing on every quiet poll would
                // fill it with near-empty batches in a fraction of a second behind a worker that is still starting.
                long pending = writer.PendingMilliseconds;
                if (pending >= BatchFlushMs || (consumed == 0 && ChannelDepth() < ChannelCapacity / 4))
                {
                    writer.Flush();
                }

                Interlocked.Increment(ref _loops);
                MarkProgress();
            }

            // Final drain: what the kernel already wrote is delivered, not lost.
            if (rb is not null)
            {
                Volatile.Write(ref _drainUntil, Environment.TickCount64 + FinalDrainMilliseconds);
                rb.Consume();
                Volatile.Write(ref _drainUntil, 0);
            }

            writer.Flush();
        }
        catch (Exception e)
        {
            Failure = e;
            _logger.LogCritical(e, "The poll thread failed; no more samples will be read");
        }
    }

    public void Dispose() => Stop(TimeSpan.FromSeconds(5));
}
