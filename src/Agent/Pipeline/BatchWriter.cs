using System.Threading.Channels;

namespace BpfAgent.Pipeline;

/// <summary>
/// Poll-thread side of the channel: fills the current batch and hands full batches to the channel. When the
/// channel is full it waits up to <paramref name="fullWaitMs"/> for the workers to make room (meanwhile the kernel
/// ring, far larger than a batch, keeps buffering; should it fill, the program counts its drops); past that the
/// batch's samples are dropped and counted per ring. Dropping at once would waste the copies just made, and on a
/// host with few cores the poll thread would be taking the CPU the workers need to catch up.
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

        if (!writer.TryWrite(batch) && !WaitToWrite(batch))
        {
            for (int i = 0; i < batch.Count; i++)
            {
                batch.Rings[batch.RingOf(i)].AddChannelDropped(1);
            }

            pool.Return(batch);
        }
    }

    /// <summary>Batches that found the channel full and waited for room (delivered or not).</summary>
    public long FullWaits { get; private set; }

    private bool WaitToWrite(SampleBatch batch)
    {
        if (fullWaitMs <= 0)
        {
            return false;
        }

        FullWaits++;
        long deadline = Environment.TickCount64 + fullWaitMs;
        var spin = default(SpinWait);
        do
        {
            spin.SpinOnce(sleep1Threshold: 30); // yields the core to the workers first, then sleeps 1 ms at a time
            if (writer.TryWrite(batch))
            {
                return true;
            }
        }
        while (Environment.TickCount64 < deadline);

        return false;
    }

    private SampleBatch Rent(int sampleBytes)
    {
        SampleBatch b = pool.Rent(sampleBytes);
        b.Rings = _rings;
        _currentSince = Environment.TickCount64;
        return b;
    }
}

/// <summary>The libbpf consumer of one ring: copies each sample into the current batch.</summary>
internal sealed class BatchingConsumer(int ring, BatchWriter writer, RingBufferPoller poller) : Bpf.IRingBufferConsumer
{
    private int _sinceCheck;

    public bool OnSample(ReadOnlySpan<byte> sample)
    {
        writer.Add(ring, sample);

        // Under saturation one poll call may not return for seconds: prove progress and honour stop from here.
        if (++_sinceCheck >= 4096)
        {
            _sinceCheck = 0;
            poller.MarkProgress();
            return !poller.StopRequested;
        }

        return true;
    }
}
