using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A libbpf <c>ring_buffer</c> over one or more BPF_MAP_TYPE_RINGBUF maps, each with its own consumer.
/// Poll and Consume must be called from one thread at a time; dispatch to consumers allocates nothing.
/// The maps' objects must outlive the ring buffer.
/// </summary>
/// <remarks>
/// <para>
/// Waiting is libbpf's: <see cref="Poll"/> is ring_buffer__poll (epoll over every ring). Reading is managed: the
/// first sample a poll finds comes through libbpf's callback, which then ends libbpf's loop, and that sample and
/// every later one are read from the ring's pages (<see cref="RingMemory"/>) in this process's own code. A
/// callback from native code into .NET costs about four times the whole per-sample work of a C consumer (the
/// runtime's transition in and out, measured in docs/performance.md), so paying it once per wakeup instead of
/// once per sample is what keeps the consumer near native speed. Both paths keep libbpf's semantics: in order,
/// discarded records skipped, a record still being written left for the next call.
/// </para>
/// <para>
/// A concurrent or re-entrant Poll, Consume or Add (for example from a consumer) throws
/// <see cref="InvalidOperationException"/> instead of corrupting libbpf's state. Dispose during a Poll or
/// Consume (from a consumer, or another thread) is deferred until that call returns: it does not interrupt a
/// blocked Poll, so poll with a timeout.
/// </para>
/// </remarks>
public sealed unsafe class RingBuffer : IDisposable
{
    // Returned by the native callback when a consumer asks to stop; libbpf hands it back from poll/consume.
    private const int StopRequested = -125; // -ECANCELED

    // Returned by the native callback after its first sample, so that libbpf hands the rest to managed reading.
    private const int HandOff = -115; // -EINPROGRESS

    private const int Idle = 0;
    private const int InCall = 1;
    private const int Disposed = 2;
    private const int DisposeRequested = 3;

    private readonly List<Ring> _rings = [];
    private nint _rb;
    private int _state;
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
            ring.Memory.Dispose();
            GC.SuppressFinalize(this);
            throw BpfException.FromErrno(errno == 0 ? 22 : errno, "ring_buffer__new", map.Name);
        }

        _rings.Add(ring);
    }

    ~RingBuffer() => Free();

    /// <summary>The rings, in the order they were added.</summary>
    public IReadOnlyList<RingStatistics> Rings => _rings;

    /// <summary>The epoll fd that becomes readable when any ring has data (for callers with their own loop).</summary>
    public int EpollFd
    {
        get
        {
            int state = Volatile.Read(ref _state);
            ObjectDisposedException.ThrowIf(state is Disposed or DisposeRequested, this);
            return Interop.Libbpf.ring_buffer__epoll_fd(_rb);
        }
    }

    /// <summary>Whether the last Poll or Consume ended because a consumer returned false.</summary>
    public bool WasStopped => _stopped;

    /// <summary>Adds another ring with its own consumer (ring_buffer__add).</summary>
    public RingBuffer Add(BpfMap map, IRingBufferConsumer consumer)
    {
        nint rb = Enter();
        try
        {
            Ring ring = NewRing(map, consumer);
            int rc = Interop.Libbpf.ring_buffer__add(rb, map.Fd, &OnSample, (void*)GCHandle.ToIntPtr(ring.Handle));
            if (rc < 0)
            {
                ring.Handle.Free();
                ring.Memory.Dispose();
                Errors.Check(rc, "ring_buffer__add", map.Name);
            }

            _rings.Add(ring);
        }
        finally
        {
            Exit();
        }

        return this;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> ms (-1: forever, 0: not at all) for data (ring_buffer__poll), then
    /// consumes what every ring holds. Returns the samples consumed; 0 on timeout or interruption by a signal.
    /// Rings fed with BPF_RB_NO_WAKEUP may never wake a poll: call <see cref="Consume"/> on timeout too.
    /// </summary>
    public int Poll(int timeoutMs)
    {
        nint rb = Enter();
        long before = TotalSamples();
        _stopped = false;
        try
        {
            int rc = Interop.Libbpf.ring_buffer__poll(rb, timeoutMs);
            if (rc == HandOff)
            {
                ConsumeRings();
            }
            else
            {
                Finish(rc, "ring_buffer__poll");
            }
        }
        finally
        {
            Exit();
        }

        return Consumed(before);
    }

    /// <summary>Consumes everything every ring holds now, without waiting. Returns the samples consumed.</summary>
    public int Consume()
    {
        Enter();
        long before = TotalSamples();
        _stopped = false;
        try
        {
            ConsumeRings();
        }
        finally
        {
            Exit();
        }

        return Consumed(before);
    }

    /// <summary>Unconsumed bytes in the ring at <paramref name="index"/> (headers included), as the kernel sees them now.</summary>
    public long PendingBytes(int index)
    {
        Enter();
        try
        {
            return _rings[index].Memory.Pending;
        }
        finally
        {
            Exit();
        }
    }

    private void ConsumeRings()
    {
        foreach (Ring r in _rings)
        {
            var sink = new RingSink(r);
            r.Memory.Consume(ref sink, out bool stopped);
            if (stopped)
            {
                _stopped = true;
                return;
            }
        }
    }

    public void Dispose()
    {
        while (true)
        {
            int state = Volatile.Read(ref _state);
            if (state is Disposed or DisposeRequested)
            {
                return;
            }

            // Idle: free now. In a call: the call frees on its way out (Exit).
            int next = state == Idle ? Disposed : DisposeRequested;
            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if (next == Disposed)
                {
                    Free();
                }

                GC.SuppressFinalize(this);
                return;
            }
        }
    }

    private nint Enter()
    {
        int state = Interlocked.CompareExchange(ref _state, InCall, Idle);
        if (state == Idle)
        {
            return _rb;
        }

        ObjectDisposedException.ThrowIf(state is Disposed or DisposeRequested, this);
        throw new InvalidOperationException(
            "The ring buffer is already in Poll, Consume or Add: call it from one thread at a time, never from a consumer.");
    }

    private void Exit()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, InCall) == DisposeRequested)
        {
            Volatile.Write(ref _state, Disposed);
            Free();
        }
    }

    private void Free()
    {
        nint rb = Interlocked.Exchange(ref _rb, 0);
        if (rb != 0)
        {
            Interop.Libbpf.ring_buffer__free(rb);
            foreach (Ring r in _rings)
            {
                r.Handle.Free();
                r.Memory.Dispose();
            }
        }
    }

    private void Finish(int rc, string function)
    {
        if (rc == StopRequested)
        {
            _stopped = true;
        }
        else if (rc != -4) // EINTR: a signal, not an error
        {
            Errors.Check(rc, function, null);
        }
    }

    private int Consumed(long before) => (int)Math.Min(int.MaxValue, TotalSamples() - before);

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

        var ring = new Ring(map.Name, consumer, new RingMemory(map.Fd, map.MaxEntries, map.Name));
        ring.Handle = GCHandle.Alloc(ring);
        return ring;
    }

    [UnmanagedCallersOnly]
    private static int OnSample(void* ctx, void* data, nuint size)
    {
        try
        {
            Ring ring = Unsafe.As<Ring>(GCHandle.FromIntPtr((nint)ctx).Target!);
            return ring.Deliver(new ReadOnlySpan<byte>(data, (int)size)) ? HandOff : StopRequested;
        }
        catch (Exception)
        {
            // Never let an exception reach libbpf: it would abort the process. (Deliver catches the consumer's.)
            return HandOff;
        }
    }

    /// <summary>The managed path's dispatch, a struct so that the ring walk calls it directly.</summary>
    private readonly struct RingSink(Ring ring) : IRecordSink
    {
        public bool OnRecord(ReadOnlySpan<byte> record) => ring.Deliver(record);
    }

    private sealed class Ring(string mapName, IRingBufferConsumer consumer, RingMemory memory) : RingStatistics
    {
        public GCHandle Handle;
        public readonly IRingBufferConsumer Consumer = consumer;
        public readonly RingMemory Memory = memory;
        public long Samples;
        public long Bytes;
        public long ConsumerErrors;
        public Exception? LastError;

        /// <summary>Counts a sample and hands it to the consumer; a consumer exception is caught and counted (the sample counts as consumed).</summary>
        public bool Deliver(ReadOnlySpan<byte> sample)
        {
            Samples++;
            Bytes += sample.Length;
            try
            {
                return Consumer.OnSample(sample);
            }
            catch (Exception e)
            {
                ConsumerErrors++;
                LastError = e;
                return true;
            }
        }

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
