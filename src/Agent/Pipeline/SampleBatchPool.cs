using System.Collections.Concurrent;

namespace BpfAgent.Pipeline;

/// <summary>Reuses batches between the poll thread and the workers, so steady state allocates nothing.</summary>
public sealed class SampleBatchPool(int batchBytes)
{
    private readonly ConcurrentQueue<SampleBatch> _free = new();
    private long _allocated;

    public int BatchBytes { get; } = batchBytes;

    /// <summary>Batches ever allocated (grows only until the pipeline reaches steady state).</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    public SampleBatch Rent(int atLeastBytes = 0)
    {
        if (atLeastBytes > BatchBytes)
        {
            Interlocked.Increment(ref _allocated);
            return new SampleBatch(atLeastBytes); // an oversize sample: a one-off batch, not pooled
        }

        if (_free.TryDequeue(out SampleBatch? batch))
        {
            return batch;
        }

        Interlocked.Increment(ref _allocated);
        return new SampleBatch(BatchBytes);
    }

    public void Return(SampleBatch batch)
    {
        batch.Reset();
        if (batch.Data.Length == BatchBytes)
        {
            _free.Enqueue(batch);
        }
    }
}
