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
    // Records of the segment being processed that were not delivered (decode errors, exceptions).
    private long _failed;

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

    // The segment's records where they lie: counted as received by the reader when it reaches the end (or a record
    // still being written), then delivered after the metrics, then their space goes back to the kernel.
    private void ProcessSegment(RingSegment segment, RingSource source)
    {
        SampleProcessor processor = source.Processor;
        RingSegment.Reader reader = segment.GetEnumerator();
        _failed = 0;
        try
        {
            while (true)
            {
                try
                {
                    ProcessRecords(ref reader, processor, source);
                    break;
                }
                catch (Exception e)
                {
                    _failed++;
                    DecodeFailed(source, e); // the reader is past the record that threw: go on with the next
                }
            }
        }
        finally
        {
            reader.CountReceived();
            source.AddDelivered(reader.Count - _failed);
            reader.Release();
            source.SegmentReleased();
        }
    }

    // No exception handling in here, so the loop stays tight (the caller resumes it after a throw). Every record the
    // reader returns is delivered unless counted in _failed.
    private void ProcessRecords(ref RingSegment.Reader reader, SampleProcessor processor, RingSource source)
    {
        while (reader.MoveNext())
        {
            if (!processor.Process(reader.Current))
            {
                source.AddDecodeError();
                _failed++;
            }
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
