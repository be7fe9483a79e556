namespace BpfAgent.Pipeline;

/// <summary>
/// Reuses batches between the poll thread and the workers, so steady state allocates nothing. Last in, first out:
/// the batch rented next is the one a worker just finished, still in the CPU's cache, instead of the one that has
/// waited longest (a queue would cycle through every batch ever allocated, each cold).
/// </summary>
public sealed class SampleBatchPool(int batchBytes)
{
    private readonly Stack<SampleBatch> _free = new();
    private readonly Lock _gate = new();
    private readonly object _returnSignal = new();
    private int _returns = 1; // batches returned since ExpectReturn
    private int _wanted = 1; // how many WaitForReturn waits for
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

        lock (_gate)
        {
            if (_free.TryPop(out SampleBatch? batch))
            {
                return batch;
            }
        }

        Interlocked.Increment(ref _allocated);
        return new SampleBatch(BatchBytes);
    }

    public void Return(SampleBatch batch)
    {
        batch.Reset();
        if (batch.Data.Length == BatchBytes)
        {
            lock (_gate)
            {
                _free.Push(batch);
            }
        }

        lock (_returnSignal)
        {
            // Wake the poll thread only once as many batches came back as it asked for: one wake-up per batch cost tens of
            // microseconds a batch when the poll thread keeps the channel full.
            if (++_returns == _wanted)
            {
                Monitor.PulseAll(_returnSignal);
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for the batches <see cref="ExpectReturn"/> asked for to come back (the
    /// worker finished them: room in the channel, ring space released). Call ExpectReturn before checking what to wait
    /// for, then this.
    /// </summary>
    public void WaitForReturn(int timeoutMs)
    {
        lock (_returnSignal)
        {
            if (_returns < _wanted)
            {
                Monitor.Wait(_returnSignal, timeoutMs);
            }
        }
    }

    /// <summary>Forgets earlier returns, so that <see cref="WaitForReturn"/> waits for the next <paramref name="batches"/>.</summary>
    public void ExpectReturn(int batches = 1)
    {
        lock (_returnSignal)
        {
            _returns = 0;
            _wanted = Math.Max(1, batches);
        }
    }
}
