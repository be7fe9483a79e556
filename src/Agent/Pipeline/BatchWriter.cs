using System.Threading.Channels;

namespace BpfAgent.Pipeline;

/// <summary>
/// Poll-thread side of the channel: puts copied samples in the current batch, ends it with a ring segment, and hands
/// batches to the channel. When the channel is full it waits at least <paramref name="fullWaitMs"/> for the worker to
/// make room, and past that for as long as <see cref="KeepWaiting"/> says (the poller: while every ring has room and
/// no stop is due). Meanwhile the kernel rings keep buffering; dropping a batch they still have room for would lose
/// samples for nothing, since a segment's records take ring space either way. Past both, the batch's samples are
/// dropped and counted per ring; a dropped segment is counted and its space given back once no earlier segment of its
/// ring is in flight. 0 drops at once.
/// On a host with few cores, dropping at once would have the poll thread take the CPU the worker needs to catch up.
/// </summary>
public sealed class BatchWriter(ChannelWriter<SampleBatch> writer, SampleBatchPool pool, int fullWaitMs = 0)
{
    private SampleBatch? _current;
    private long _currentSince;
    private RingSource[] _rings = [];

    public RingSource[] Rings
    {
        get => _rings;
        set
        {
            Flush();
            _rings = value;
        }
    }

    /// <summary>How long the current, partly filled batch has waited (Environment.TickCount64 ms); 0 if none.</summary>
    public long PendingMilliseconds => _current is null ? 0 : Environment.TickCount64 - _currentSince;

    public void Add(int ring, ReadOnlySpan<byte> sample)
    {
        _current ??= Rent(sample.Length);
        if (_current.TryAdd(ring, sample))
        {
            return;
        }

        Flush();
        _current = Rent(sample.Length);
        _current.TryAdd(ring, sample);
    }

    /// <summary>
    /// Copies the records of <paramref name="segment"/> into the current batch (and the next ones, if they do not fit
    /// in one) and gives its space back to the kernel. Only for a segment whose ring has nothing else in flight: its
    /// reader starts where the last one stopped.
    /// </summary>
    public void Copy(Bpf.RingSegment segment)
    {
        Bpf.RingSegment.Reader reader = segment.GetEnumerator();
        try
        {
            while (reader.MoveNext())
            {
                Add(segment.Ring, reader.Current);
            }
        }
        finally
        {
            reader.Release();
        }
    }

    /// <summary>Hands <paramref name="segment"/> to the worker at the end of the current batch, which goes out now.</summary>
    public void Add(Bpf.RingSegment segment)
    {
        _current ??= Rent(0);
        _current.SetSegment(segment);
        Flush();
    }

    /// <summary>Counts and releases refused segments once nothing earlier of their ring is in flight.</summary>
    public void CountDropped()
    {
        foreach (RingSource r in _rings)
        {
            r.CountDropped();
        }
    }

    /// <summary>Sends the current batch, if any.</summary>
    public void Flush()
    {
        SampleBatch? batch = _current;
        if (batch is null)
        {
            return;
        }

        _current = null;
        if (batch.IsEmpty)
        {
            pool.Return(batch);
            return;
        }

        Bpf.RingSegment segment = batch.Segment;
        RingSource? segmentRing = segment.IsEmpty ? null : batch.Rings[segment.Ring];
        segmentRing?.SegmentHandedOff(); // before the write: the worker may release it at once
        if (writer.TryWrite(batch) || WaitToWrite(batch))
        {
            return;
        }

        for (int i = 0; i < batch.Count; i++)
        {
            batch.Rings[batch.RingOf(i)].AddChannelDropped(1);
        }

        if (segmentRing is not null)
        {
            segmentRing.SegmentReleased(); // not with the worker after all
            segmentRing.Dropped(segment);
        }

        pool.Return(batch);
    }

    /// <summary>How many batches the worker returns before a writer waiting on a full channel tries again (half the channel).</summary>
    public int RefillBatches { get; init; } = 1;

    /// <summary>Batches that found the channel full and waited for room (delivered or not).</summary>
    public long FullWaits { get; private set; }

    /// <summary>
    /// Asked once the full-channel wait has run out (and then every few milliseconds): whether the batch may wait on
    /// rather than be dropped. Null: it may not.
    /// </summary>
    public Func<bool>? KeepWaiting { get; init; }

    private bool WaitToWrite(SampleBatch batch)
    {
        if (fullWaitMs <= 0)
        {
            return false;
        }

        FullWaits++;
        long deadline = Environment.TickCount64 + fullWaitMs;
        while (true)
        {
            // Sleep until the worker returned half a channel of batches: spinning here would take the core the worker
            // needs on a small host, and waking for every batch costs more than the batch's hand-off.
            pool.ExpectReturn(RefillBatches);
            if (writer.TryWrite(batch))
            {
                return true;
            }

            long left = deadline - Environment.TickCount64;
            if (left <= 0)
            {
                if (KeepWaiting?.Invoke() != true)
                {
                    return false;
                }

                left = 10; // then ask again
            }

            pool.WaitForReturn((int)Math.Min(left, int.MaxValue));
        }
    }

    private SampleBatch Rent(int sampleBytes)
    {
        SampleBatch b = pool.Rent(sampleBytes);
        b.Rings = _rings;
        _currentSince = Environment.TickCount64;
        return b;
    }
}
