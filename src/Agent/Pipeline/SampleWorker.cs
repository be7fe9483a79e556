using System.Threading.Channels;
using Bpf;
using BpfAgent.Metrics;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// Reads batches from the channel, runs their samples through their ring's <see cref="SampleProcessor"/> a chunk at a
/// time (the copied ones, then the segment's where they lie in the ring), counts deliveries and decode errors per
/// ring, gives the segment's space back to the kernel, and returns the batch to the pool. One worker keeps per-ring
/// order.
/// </summary>
public sealed class SampleWorker(ChannelReader<SampleBatch> reader, SampleBatchPool pool, ILogger logger)
{
    private readonly Logs.PerSecondLimiter _errorLog = new(5);
    // The rings a batch holds samples of, and the samples delivered of each (published after the metrics).
    private readonly List<RingSource> _touched = [];
    private long[] _delivered = new long[4];
    private long _batches;
    // Samples of one ring on their way through its metrics (SampleProcessor.Process(SampleChunk)).
    private readonly SampleChunk _chunk = new();

    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Runs until the channel is completed and drained.</summary>
    public async Task RunAsync()
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out SampleBatch? batch))
            {
                try
                {
                    Process(batch);
                }
                catch (Exception e)
                {
                    // A bug outside the per-sample guard must not end the worker: the channel would fill for good.
                    logger.LogError(e, "A batch of {Count} copied samples and {Segment} bytes of ring could not be processed", batch.Count, batch.Segment.SpanBytes);
                }

                pool.Return(batch);
                Interlocked.Increment(ref _batches);
            }
        }
    }

    internal void Process(SampleBatch batch)
    {
        RingSource[] rings = batch.Rings;
        int run = -1;
        int slot = -1;
        RingSource? source = null;
        for (int i = 0; i < batch.Count; i++)
        {
            int ring = batch.RingOf(i);
            if (ring != run)
            {
                if (source is not null)
                {
                    _delivered[slot] -= Flush(source); // the previous ring's samples go through its metrics first
                }

                run = ring;
                source = rings[ring];
                slot = Slot(source);
            }

            if (Add(source!, batch.Sample(i)))
            {
                _delivered[slot]++;
            }

            if (_chunk.IsFull)
            {
                _delivered[slot] -= Flush(source!);
            }
        }

        if (source is not null)
        {
            _delivered[slot] -= Flush(source);
        }

        // Delivered counts after the metrics (an interlocked add orders the series' plain stores before it): whoever
        // sees a sample counted as delivered sees it in the metrics.
        for (int t = 0; t < _touched.Count; t++)
        {
            _touched[t].AddDelivered(_delivered[t]);
            _delivered[t] = 0;
        }

        _touched.Clear();
        if (!batch.Segment.IsEmpty)
        {
            ProcessSegment(batch.Segment, rings[batch.Segment.Ring]);
        }
    }

    // The segment's records where they lie, a chunk at a time: counted as received by the reader when it reaches the
    // end (or a record still being written), then delivered after the metrics, then their space goes back to the kernel.
    private void ProcessSegment(RingSegment segment, RingSource source)
    {
        RingSegment.Reader reader = segment.GetEnumerator();
        long failed = 0;
        try
        {
            while (reader.MoveNext())
            {
                if (!Add(source, reader.Current))
                {
                    failed++;
                }
                else if (_chunk.IsFull)
                {
                    failed += Flush(source);
                }
            }

            failed += Flush(source);
        }
        finally
        {
            _chunk.Clear(); // a reader that threw (a corrupt ring) leaves nothing to point into released pages
            reader.CountReceived();
            source.AddDelivered(reader.Count - failed);
            reader.Release();
            source.SegmentReleased();
        }
    }

    // A sample into the chunk, or a decode error when it is shorter than its struct.
    private bool Add(RingSource source, ReadOnlySpan<byte> sample)
    {
        if (!source.Processor.Fits(sample))
        {
            source.AddDecodeError();
            return false;
        }

        _chunk.Add(sample);
        return true;
    }

    // Runs the chunk through the ring's metrics and log; returns the samples that threw (counted as decode errors).
    private int Flush(RingSource source)
    {
        if (_chunk.Count == 0)
        {
            return 0;
        }

        source.Processor.Process(_chunk);
        int failed = _chunk.FailedCount;
        if (failed > 0)
        {
            for (int i = 0; i < failed; i++)
            {
                source.AddDecodeError();
            }

            DecodeFailed(source, _chunk.LastError!, failed);
        }

        _chunk.Clear();
        return failed;
    }

    private void DecodeFailed(RingSource source, Exception e, int samples)
    {
        if (_errorLog.TryAcquire(Environment.TickCount64, out long suppressed))
        {
            logger.LogError(e, "Decoding {Samples} samples of {Ring} failed ({Suppressed} more such errors in the last second)", samples, source, suppressed);
        }
    }

    private int Slot(RingSource source)
    {
        int slot = _touched.IndexOf(source);
        if (slot < 0)
        {
            slot = _touched.Count;
            _touched.Add(source);
            if (_delivered.Length <= slot)
            {
                Array.Resize(ref _delivered, slot * 2 + 4);
            }
        }

        return slot;
    }
}
