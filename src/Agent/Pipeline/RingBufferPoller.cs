using System.Threading.Channels;
using Bpf;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// The one dedicated thread that waits on ring_buffer__poll over every configured ring (one libbpf ring_buffer,
/// rings added with ring_buffer__add) and hands the rings' records to the worker as segments read in place (the ring,
/// which the program sizes, is the buffer; the worker gives the space back once done). It cuts on every timeout too
/// (producers using BPF_RB_NO_WAKEUP never wake a poll). While the worker holds segments it waits for the worker,
/// not for libbpf, which would otherwise read the records the worker holds.
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
    private RingSource[] _ringBufferSources = [];
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
    /// Whether to stop cutting: on stop, except during the final drain, which may run for at most
    /// <see cref="FinalDrainMilliseconds"/> (a producer faster than the consumer would keep it going forever).
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

    /// <summary>Bytes of ring one segment spans at most.</summary>
    public int SegmentBytes { get; init; } = 1024 * 1024;

    /// <summary>A segment spanning fewer bytes than this, of a ring with nothing in flight, is copied into batches instead (half a batch).</summary>
    public int CopyBytes { get; init; } = 32 * 1024;

    private void MarkProgress() => Interlocked.Exchange(ref _progressTicks, Environment.TickCount64);

    /// <summary>Builds the ring buffer over <paramref name="rings"/> and starts the poll thread.</summary>
    public void Start(RingSource[] rings)
    {
        if (_thread is not null)
        {
            throw new InvalidOperationException("The poller is already running.");
        }

        _stop = false;
        _writer = new BatchWriter(_channel, _pool, _channelFullWaitMs)
        {
            Rings = rings,
            KeepWaiting = RingsHaveRoom,
            RefillBatches = ChannelCapacity == int.MaxValue ? 1 : Math.Max(1, ChannelCapacity / 2),
        };

        // The same rings as last time: keep the ring buffer and its mappings (a big ring's pages are slow to touch for
        // the first time in some VMs, and its counts continue as they are).
        if (_ringBuffer is not null && !rings.AsSpan().SequenceEqual(_ringBufferSources))
        {
            FreeRingBuffer();
        }

        if (_ringBuffer is null && rings.Length > 0)
        {
            _ringBufferSources = rings;
            _ringBuffer = new RingBuffer(MapOf(rings[0]));
            for (int i = 1; i < rings.Length; i++)
            {
                _ringBuffer.Add(MapOf(rings[i]));
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
    /// Stops polling, hands over what the rings still hold and flushes the last batch. The ring buffer stays for a
    /// restart over the same rings; a start over other rings, or Dispose, frees it (its pages stay mapped until the
    /// worker released the last segment). Does not complete the channel (a reload starts the poller again on it).
    /// </summary>
    public void Stop(TimeSpan timeout)
    {
        _stop = true;
        if (_thread is not null && !_thread.Join(timeout))
        {
            _logger.LogError("The poll thread did not stop within {Timeout}", timeout);
        }

        _thread = null;

        // A segment dropped while earlier ones were in flight is counted and released once the worker is done with them:
        // otherwise a ring buffer freed after a reload would wait for that release for ever.
        if (_writer is BatchWriter writer)
        {
            long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (writer.Rings.Any(r => r.HasSegmentsInFlight) && Environment.TickCount64 < deadline)
            {
                Thread.Sleep(1);
            }

            writer.CountDropped();
        }

    }

    private static BpfMap MapOf(RingSource ring) =>
        ring.Map ?? throw new InvalidOperationException($"Ring {ring} has no map to read: it is fed by its caller, not polled.");

    // A batch the full channel holds up may wait on while no ring is half full (the ring, which the program sizes, is
    // the buffer: a cold worker at startup, slow under emulation, catches up without a loss) and no stop is due.
    private bool RingsHaveRoom()
    {
        MarkProgress(); // waiting for the worker is progress: the poll loop is not stuck
        RingBuffer? rb = _ringBuffer;
        if (rb is null || StopRequested)
        {
            return false;
        }

        for (int i = 0; i < _ringBufferSources.Length; i++)
        {
            if (rb.PendingBytes(i) * 2 >= (_ringBufferSources[i].Map?.MaxEntries ?? 0))
            {
                return false;
            }
        }

        return true;
    }

    private void FreeRingBuffer()
    {
        _ringBuffer?.Dispose();
        _ringBuffer = null;
        _ringBufferSources = [];
    }

    private void Run()
    {
        RingBuffer? rb = _ringBuffer;
        BatchWriter writer = _writer!;
        try
        {
            while (!_stop)
            {
                int handed = 0;
                if (rb is null)
                {
                    Thread.Sleep(_pollTimeoutMs);
                }
                else
                {
                    _pool.ExpectReturn();
                    writer.CountDropped();
                    bool idle = AllReleased(rb);
                    if (idle)
                    {
                        rb.Wait(_pollTimeoutMs);
                        handed += TakeFirstRecords(rb, writer);
                    }

                    if (!_stop)
                    {
                        handed += CutAll(rb, writer);
                    }

                    if (handed == 0 && !idle)
                    {
                        _pool.WaitForReturn(_pollTimeoutMs); // the worker holds segments: wait for it to give one back
                    }
                }

                // A batch of copied samples only goes out when the rings are quiet only while the channel is nearly
                // empty (the worker keeps up, so an early hand-off costs nothing); otherwise it waits up to
                // BatchFlushMs for a segment to end it.
                long pending = writer.PendingMilliseconds;
                if (pending >= BatchFlushMs || (handed == 0 && ChannelDepth() < ChannelCapacity / 4))
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
                TakeFirstRecords(rb, writer);
                while (!StopRequested)
                {
                    _pool.ExpectReturn();
                    writer.CountDropped();
                    int cut = CutAll(rb, writer);
                    writer.Flush();
                    if (cut == 0)
                    {
                        if (AllReleased(rb))
                        {
                            break; // nothing in flight, nothing new
                        }

                        _pool.WaitForReturn(10); // a segment is with the worker: cut again once it is back
                    }
                }

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

    private static bool AllReleased(RingBuffer rb)
    {
        for (int i = 0; i < rb.Rings.Count; i++)
        {
            if (!rb.AllReleased(i))
            {
                return false;
            }
        }

        return true;
    }

    // The first record of a wakeup is a copy (libbpf already gave its space back): it goes first in the batch.
    private static int TakeFirstRecords(RingBuffer rb, BatchWriter writer)
    {
        int taken = 0;
        for (int i = 0; i < rb.Rings.Count; i++)
        {
            if (rb.TryTakeFirst(i, out ReadOnlySpan<byte> record))
            {
                writer.Add(i, record);
                taken++;
            }
        }

        return taken;
    }

    // Round robin over the rings, one segment each per turn, while they hold whole segments' worth (or until stop is
    // requested). A segment is cut without reading it: the worker's reader finds the records in it. A short segment
    // means the ring is caught up: the loop then waits for the worker before cutting the little that came meanwhile,
    // instead of spinning on the producer's position. A short segment (under CopyBytes) of a ring with nothing in
    // flight is copied into the current batch and given back at once: at a moderate rate a wakeup brings a record or two, and handing each
    // such segment to the worker (and waiting for it to give the space back before waiting on libbpf again) cost a
    // thread hand-off per wakeup, 3x the agent CPU per event of copies. Returns the segments handed over or copied.
    private int CutAll(RingBuffer rb, BatchWriter writer)
    {
        int cut = 0;
        bool more = true;
        while (more && !StopRequested)
        {
            more = false;
            for (int i = 0; i < rb.Rings.Count; i++)
            {
                if (writer.Rings[i].HasDropPending)
                {
                    continue; // its refused segment is counted first (CountDropped), in ring order
                }

                bool nothingInFlight = rb.AllReleased(i);
                if (rb.TryCut(i, SegmentBytes, out RingSegment segment))
                {
                    cut++;
                    bool full = segment.SpanBytes >= SegmentBytes;
                    more |= full;
                    if (nothingInFlight && segment.SpanBytes < CopyBytes)
                    {
                        writer.Copy(segment);
                    }
                    else
                    {
                        writer.Add(segment);
                    }
                }
            }

            MarkProgress();
        }

        return cut;
    }

    public void Dispose()
    {
        Stop(TimeSpan.FromSeconds(5));
        FreeRingBuffer();
    }
}
