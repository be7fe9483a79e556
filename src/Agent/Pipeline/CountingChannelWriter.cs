using System.Threading.Channels;

namespace BpfAgent.Pipeline;

/// <summary>
/// The poller's side of the channel, counting the batches it accepted: a reload compares that with the batches the
/// worker finished to know when nothing in flight still refers to a set it is about to close.
/// </summary>
internal sealed class CountingChannelWriter<T>(ChannelWriter<T> inner) : ChannelWriter<T>
{
    private long _written;

    public long Written => Interlocked.Read(ref _written);

    public override bool TryWrite(T item)
    {
        if (!inner.TryWrite(item))
        {
            return false;
        }

        Interlocked.Increment(ref _written);
        return true;
    }

    public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default) => inner.WaitToWriteAsync(cancellationToken);

    public override bool TryComplete(Exception? error = null) => inner.TryComplete(error);
}
