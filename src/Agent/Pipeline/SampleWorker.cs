using System.Threading.Channels;
using Bpf;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// Reads batches from the channel, runs each sample through its ring's <see cref="SampleProcessor"/> (the copied
/// ones, then the segment's where they lie in the ring), counts deliveries and decode errors per ring, gives the
/// segment's space back to the kernel, and returns the batch to the pool. One worker keeps per-ring order.
/// </summary>
public sealed class SampleWorker(ChannelReader<SampleBatch> reader, SampleBatchPool pool, ILogger logger)
{
    private readonly Logs.PerSecondLimiter _errorLog = new(5);
    // The rings a batch holds samples of, and the samples delivered of each (published after the metrics).
    private readonly List<RingSource> _touched = [];
    private long[] _delivered = new long[4];
    private long _batches;

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
                    logger.LogError(e, "A batch of {Count} samples could not be processed", batch.SampleCount);
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
        for (int i = 0; i < batch.Count; i++)
        {
            int ring = batch.RingOf(i);
            if (ring != run)
            {
                run = ring;
                slot = Slot(rings[ring]);
            }

            RingSource source = rings[ring];
            try
            {
                if (source.Processor.Process(batch.Sample(i)))
                {
                    _delivered[slot]++;
                }
                else
                {
                    source.AddDecodeError();
                }
            }
            catch (Exception e)
            {
                DecodeFailed(source, e);
            }
        }

        // Delivered counts after the metrics (an interlocked add orders the series' plain stores before it): whoever
        // sees a sample counted as delivered sees it in the metrics.
        for (int t = 0; t < _touched.Count; t++)
        {
            RingSource source = _touched[t];
            source.AddDelivered(_delivered[t]);
            _delivered[t] = 0;
        }

        _touched.Clear();
        if (!batch.Segment.IsEmpty)
        {
            ProcessSegment(batch.Segment, rings[batch.Segment.Ring]);
        }
    }

    private void ProcessSegment(RingSegment segment, RingSource source)
    {
        SampleProcessor processor = source.Processor;
        long delivered = 0;
        try
        {
            foreach (ReadOnlySpan<byte> sample in segment)
            {
                try
                {
                    if (processor.Process(sample))
                    {
                        delivered++;
                    }
                    else
                    {
                        source.AddDecodeError();
                    }
                }
                catch (Exception e)
                {
                    DecodeFailed(source, e);
                }
            }
        }
        finally
        {
            // After the metrics, as above; then the space goes back to the kernel: nothing reads these records again.
            source.AddDelivered(delivered);
            segment.Release();
            source.SegmentReleased();
        }
    }

    private void DecodeFailed(RingSource source, Exception e)
    {
        source.AddDecodeError();
        if (_errorLog.TryAcquire(Environment.TickCount64, out long suppressed))
        {
            logger.LogError(e, "Decoding a sample of {Ring} failed ({Suppressed} more such errors in the last second)", source, suppressed);
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
