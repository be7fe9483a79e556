using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A libbpf <c>ring_buffer</c> over one or more BPF_MAP_TYPE_RINGBUF maps, each with its own consumer.
/// Poll and Consume must be called from one thread at a time; dispatch to consumers allocates nothing.
/// The maps' objects must outlive the ring buffer.
/// </summary>
public sealed unsafe class RingBuffer : IDisposable
{
    // Returned by the native callback when a consumer asks to stop; libbpf hands it back from poll/consume.
    private const int StopRequested = -125; // -ECANCELED

    private readonly List<Ring> _rings = [];
    private nint _rb;
    private bool _stopped;

    /// <summary>Creates a ring buffer over <paramref name="map"/> with its consumer; add more rings with <see cref="Add"/>.</summary>
    public RingBuffer(BpfMap map, IRingBufferConsumer consumer)
    {
        Ring ring = NewRing(map, consumer);
        _rb = Interop.Libbpf.ring_buffer__new(map.Fd, &OnSample, (void*)GCHandle.ToIntPtr(ring.Handle), null);
        if (_rb == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            ring.Handle.Free();
            throw BpfException.FromErrno(errno == 0 ? 22 : errno, "ring_buffer__new", map.Name);
        }

        _rings.Add(ring);
    }

    /// <summary>The rings, in the order they were added.</summary>
    public IReadOnlyList<RingStatistics> Rings => _rings;

    /// <summary>The epoll fd that becomes readable when any ring has data (for callers with their own loop).</summary>
    public int EpollFd => Interop.Libbpf.ring_buffer__epoll_fd(Pointer);

    /// <summary>Whether the last Poll or Consume ended because a consumer returned false.</summary>
    public bool WasStopped => _stopped;

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_rb == 0, this);
            return _rb;
        }
    }

    /// <summary>Adds another ring with its own consumer (ring_buffer__add).</summary>
    public RingBuffer Add(BpfMap map, IRingBufferConsumer consumer)
    {
        nint rb = Pointer;
        Ring ring = NewRing(map, consumer);
        int rc = Interop.Libbpf.ring_buffer__add(rb, map.Fd, &OnSample, (void*)GCHandle.ToIntPtr(ring.Handle));
        if (rc < 0)
        {
            ring.Handle.Free();
            Errors.Check(rc, "ring_buffer__add", map.Name);
        }

        _rings.Add(ring);
        return this;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> ms (-1: forever, 0: not at all) for data, then consumes what the
    /// woken rings hold. Returns the samples consumed; 0 on timeout or interruption by a signal.
    /// Rings fed with BPF_RB_NO_WAKEUP may never wake a poll: call <see cref="Consume"/> on timeout too.
    /// </summary>
    public int Poll(int timeoutMs)
    {
        nint rb = Pointer;
        long before = TotalSamples();
        _stopped = false;
        int rc = Interop.Libbpf.ring_buffer__poll(rb, timeoutMs);
        return Finish(rc, before, "ring_buffer__poll");
    }

    /// <summary>Consumes everything every ring holds now, without waiting. Returns the samples consumed.</summary>
    public int Consume()
    {
        nint rb = Pointer;
        long before = TotalSamples();
        _stopped = false;
        int rc = Interop.Libbpf.ring_buffer__consume(rb);
        return Finish(rc, before, "ring_buffer__consume");
    }

    private int Finish(int rc, long before, string function)
    {
        if (rc == StopRequested)
        {
            _stopped = true;
            return (int)Math.Min(int.MaxValue, TotalSamples() - before);
        }

        if (rc == -4)
        {
            return (int)Math.Min(int.MaxValue, TotalSamples() - before); // EINTR: a signal, not an error
        }

        return Errors.Check(rc, function, null);
    }

    private long TotalSamples()
    {
        long total = 0;
        foreach (Ring r in _rings)
        {
            total += r.Samples;
        }

        return total;
    }

    private static Ring NewRing(BpfMap map, IRingBufferConsumer consumer)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        if (map.Type != BpfMapType.RingBuffer)
        {
            throw new ArgumentException($"Map '{map.Name}' is a {map.Type} map, not a ring buffer.", nameof(map));
        }

        var ring = new Ring(map.Name, consumer);
        ring.Handle = GCHandle.Alloc(ring);
        return ring;
    }

    [UnmanagedCallersOnly]
    private static int OnSample(void* ctx, void* data, nuint size)
    {
        Ring? ring = null;
        try
        {
            ring = Unsafe.As<Ring>(GCHandle.FromIntPtr((nint)ctx).Target!);
            ring.Samples++;
            ring.Bytes += (long)size;
            return ring.Consumer.OnSample(new ReadOnlySpan<byte>(data, (int)size)) ? 0 : StopRequested;
        }
        catch (Exception e)
        {
            // Never let an exception reach libbpf: it would abort the process.
            if (ring is not null)
            {
                ring.ConsumerErrors++;
                ring.LastError = e;
            }

            return 0;
        }
    }

    public void Dispose()
    {
        if (_rb != 0)
        {
            Interop.Libbpf.ring_buffer__free(_rb);
            _rb = 0;
            foreach (Ring r in _rings)
            {
                r.Handle.Free();
            }
        }
    }

    private sealed class Ring(string mapName, IRingBufferConsumer consumer) : RingStatistics
    {
        public GCHandle Handle;
        public readonly IRingBufferConsumer Consumer = consumer;
        public long Samples;
        public long Bytes;
        public long ConsumerErrors;
        public Exception? LastError;

        public override string MapName => mapName;

        public override long SamplesReceived => Volatile.Read(ref Samples);

        public override long BytesReceived => Volatile.Read(ref Bytes);

        public override long ConsumerExceptions => Volatile.Read(ref ConsumerErrors);

        public override Exception? LastConsumerException => LastError;
    }
}

/// <summary>Counters of one ring of a <see cref="RingBuffer"/>.</summary>
public abstract class RingStatistics
{
    public abstract string MapName { get; }

    /// <summary>Samples handed to the consumer.</summary>
    public abstract long SamplesReceived { get; }

    public abstract long BytesReceived { get; }

    /// <summary>Exceptions the consumer threw (caught; the sample counts as consumed).</summary>
    public abstract long ConsumerExceptions { get; }

    public abstract Exception? LastConsumerException { get; }
}
