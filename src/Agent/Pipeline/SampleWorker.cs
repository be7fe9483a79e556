using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Pipeline;

/// <summary>
/// Reads batches from the channel, runs each sample through its ring's <see cref="SampleProcessor"/>, counts
/// deliveries and decode errors per ring, and returns the batch to the pool. One worker keeps per-ring order.
/// </summary>
public sealed class SampleWorker(ChannelReader<SampleBatch> reader, SampleBatchPool pool, ILogger logger)
{
    private long _batches;

    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Runs until the channel is completed and drained.</summary>
    public async Task RunAsync()
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out SampleBatch? batch))
            {
                Process(batch);
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
                logger.LogError(e, "Decoding a sample of {Ring} failed", source);
            }
        }

        if (run >= 0)
        {
            rings[run].AddDelivered(delivered);
        }
    }
}
