using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// Reads batches from the channel, runs each sample through its ring's <see cref="SampleProcessor"/>, counts
/// deliveries and decode errors per ring, and returns the batch to the pool. One worker keeps per-ring order.
/// </summary>
public sealed class SampleWorker(ChannelReader<SampleBatch> reader, SampleBatchPool pool, ILogger logger)
{
    private readonly Logs.PerSecondLimiter _errorLog = new(5);
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
                    logger.LogError(e, "A batch of {Count} samples could not be processed", batch.Count);
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
        long delivered = 0;
        for (int i = 0; i < batch.Count; i++)
        {
            int ring = batch.RingOf(i);
            if (ring != run)
            {
                if (run >= 0)
                {
                    rings[run].AddDelivered(delivered);
                }

                run = ring;
                delivered = 0;
            }

            RingSource source = rings[ring];
            try
            {
                if (source.Processor.Process(batch.Sample(i)))
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
                source.AddDecodeError();
                if (_errorLog.TryAcquire(Environment.TickCount64, out long suppressed))
                {
                    logger.LogError(e, "Decoding a sample of {Ring} failed ({Suppressed} more such errors in the last second)", source, suppressed);
                }
            }
        }

        if (run >= 0)
        {
            rings[run].AddDelivered(delivered);
        }
    }
}
