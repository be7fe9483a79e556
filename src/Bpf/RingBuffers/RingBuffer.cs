using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A libbpf <c>ring_buffer</c> over one or more BPF_MAP_TYPE_RINGBUF maps. Two ways to read it, on one path:
/// in segments (<see cref="Wait"/>, <see cref="TryCut"/>, <see cref="RingSegment.Reader"/>: records read where
/// they lie, on any thread, and given back to the kernel once read), or with a consumer per ring
/// (<see cref="Poll"/>, <see cref="Consume"/>: the same segments, each record handed to the consumer on the
/// calling thread). Wait, Poll, Consume, TryCut and Add must be called from one thread at a time; reading allocates
/// nothing. The maps' objects must outlive the ring buffer.
/// </summary>
/// <remarks>
/// <para>
/// Waiting is libbpf's: ring_buffer__poll (epoll over every ring). Reading is this process's own code over the
/// ring's mapped pages (<see cref="RingMemory"/>): a callback from native code into .NET costs more than the whole
/// per-sample work of a C consumer, so it runs once per wakeup, not once per sample. libbpf gives a record's space
/// back to the kernel before it returns the callback's answer, so the callback copies that one record into its
/// ring's slot (<see cref="TryTakeFirst"/>) and ends libbpf's loop; every later record is read in place.
/// While any segment is cut and not yet released, Wait does not call libbpf at all (it would read, and release,
/// records that a reader still holds) and returns at once.
/// </para>
/// <para>
/// A concurrent or re-entrant call (for example from a consumer) throws <see cref="InvalidOperationException"/>
/// instead of corrupting libbpf's state. Dispose during a call is deferred until that call returns, and while
/// segments are unreleased until the last of them is released: it does not interrupt a blocked wait, so wait with
/// a timeout.
/// </para>
/// </remarks>
public sealed unsafe class RingBuffer : IDisposable
{
    // Returned by the native callback after it copied the first record, so that libbpf's loop ends there.
    private const int HandOff = -Errno.EINPROGRESS;

    // Bytes of ring a consumer-mode segment spans at most (the consumer sees one record at a time anyway).
    private const int ConsumerSegmentBytes = 1 << 20;

    private const int Idle = 0;
    private const int InCall = 1;
    private const int Disposed = 2;
    private const int DisposeRequested = 3;

    // What the native side and the rings share. Not the RingBuffer itself: the rings are rooted by GCHandles (libbpf
    // holds them), and a ring that referred to its RingBuffer would keep it from ever being finalized.
    private readonly NativeState _native = new();
    private int _state;
    private bool _stopped;

    /// <summary>Creates a ring buffer over <paramref name="map"/>, read in segments; add more rings with <see cref="Add(BpfMap)"/>.</summary>
    public RingBuffer(BpfMap map)
        : this(null, map)
    {
    }

    /// <summary>Creates a ring buffer over <paramref name="map"/> with its consumer; add more rings with <see cref="Add(BpfMap, IRingBufferConsumer)"/>.</summary>
    public RingBuffer(BpfMap map, IRingBufferConsumer consumer)
        : this(consumer ?? throw new ArgumentNullException(nameof(consumer)), map)
    {
    }

    private RingBuffer(IRingBufferConsumer? consumer, BpfMap map)
    {
        Ring ring = NewRing(map, consumer);
        _native.Rb = Interop.Libbpf.ring_buffer__new(map.Fd, &OnFirstRecord, (void*)GCHandle.ToIntPtr(ring.Handle), null);
        if (_native.Rb == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            ring.Handle.Free();
            ring.Memory.Dispose();
            GC.SuppressFinalize(this);
            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, "ring_buffer__new", map.Name);
        }

        _rings.Add(ring);
    }

    ~RingBuffer() => _native.FreeWhenReleased();

    private List<Ring> _rings => _native.Rings;

    /// <summary>The rings, in the order they were added.</summary>
    public IReadOnlyList<RingStatistics> Rings => _rings;

    /// <summary>The epoll fd that becomes readable when any ring has data (for callers with their own loop).</summary>
    public int EpollFd
    {
        get
        {
            int state = Volatile.Read(ref _state);
            ObjectDisposedException.ThrowIf(state is Disposed or DisposeRequested, this);
            return Interop.Libbpf.ring_buffer__epoll_fd(_native.Rb);
        }
    }

    /// <summary>Whether the last Poll or Consume ended because a consumer returned false.</summary>
    public bool WasStopped => _stopped;

    /// <summary>Adds another ring, read in segments (ring_buffer__add).</summary>
    public RingBuffer Add(BpfMap map) => AddRing(map, null);

    /// <summary>Adds another ring with its own consumer (ring_buffer__add).</summary>
    public RingBuffer Add(BpfMap map, IRingBufferConsumer consumer) =>
        AddRing(map, consumer ?? throw new ArgumentNullException(nameof(consumer)));

    private RingBuffer AddRing(BpfMap map, IRingBufferConsumer? consumer)
    {
        nint rb = Enter();
        try
        {
            Ring ring = NewRing(map, consumer);
            int rc = Interop.Libbpf.ring_buffer__add(rb, map.Fd, &OnFirstRecord, (void*)GCHandle.ToIntPtr(ring.Handle));
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
    /// Waits up to <paramref name="timeoutMs"/> ms (-1: forever, 0: not at all) for data in any ring
    /// (ring_buffer__poll). True when a ring woke it (cut its records next), false on timeout or a signal. While a
    /// cut segment is unreleased it returns true at once without calling libbpf. Rings fed with BPF_RB_NO_WAKEUP may
    /// never wake it: try to cut after a timeout too.
    /// </summary>
    public bool Wait(int timeoutMs)
    {
        nint rb = Enter();
        try
        {
            return WaitCore(rb, timeoutMs);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// Takes the next <paramref name="maxBytes"/> of the ring at <paramref name="ring"/> (or what the producer wrote, if
    /// less) as a segment, without reading it: its reader reads the records that start in it, counts them as received
    /// and releases them. False when the ring has nothing new, or, with nothing out, when its next record is still
    /// being written. Until a segment is released its space stays unavailable to the kernel; read and release a ring's
    /// segments in the order they were cut.
    /// </summary>
    public bool TryCut(int ring, int maxBytes, out RingSegment segment)
    {
        Enter();
        try
        {
            return Cut(_rings[ring], ring, maxBytes, out segment);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// The first record a <see cref="Wait"/> found in the ring at <paramref name="ring"/>, as a copy: libbpf hands it to
    /// a callback and gives its space back to the kernel before it returns, so it cannot be read in place. Valid until
    /// the next Wait; take it before cutting that ring (it precedes every record a cut returns). Counted as received.
    /// </summary>
    public bool TryTakeFirst(int ring, out ReadOnlySpan<byte> record)
    {
        Enter();
        try
        {
            Ring r = _rings[ring];
            if (r.FirstLength < 0)
            {
                record = default;
                return false;
            }

            record = r.First.AsSpan(0, r.FirstLength);
            r.FirstLength = -1;
            r.Samples++;
            r.ByteCount += record.Length;
            return true;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Whether the ring at <paramref name="ring"/> has records not cut yet (or being written).</summary>
    public bool HasUncut(int ring) => _rings[ring].FirstLength >= 0 || _rings[ring].Memory.HasUncut;

    /// <summary>Whether every segment cut from the ring at <paramref name="ring"/> was released.</summary>
    public bool AllReleased(int ring) => _rings[ring].Memory.AllReleased;

    /// <summary>
    /// Waits as <see cref="Wait"/> does, then hands every record of every ring that has a consumer to it.
    /// Returns the samples handed over; 0 on timeout or interruption by a signal.
    /// </summary>
    public int Poll(int timeoutMs)
    {
        nint rb = Enter();
        _stopped = false;
        try
        {
            return WaitCore(rb, timeoutMs) ? ConsumeRings() : 0;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Hands every record every ring with a consumer holds now to it, without waiting. Returns the samples handed over.</summary>
    public int Consume()
    {
        Enter();
        _stopped = false;
        try
        {
            return ConsumeRings();
        }
        finally
        {
            Exit();
        }
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

    private bool WaitCore(nint rb, int timeoutMs)
    {
        foreach (Ring r in _rings)
        {
            if (r.FirstLength >= 0 || !r.Memory.AllReleased)
            {
                return true; // libbpf would read records a segment still holds
            }
        }

        int rc = Interop.Libbpf.ring_buffer__poll(rb, timeoutMs);
        if (rc == HandOff)
        {
            foreach (Ring r in _rings)
            {
                if (r.FirstLength >= 0)
                {
                    r.Memory.FollowConsumer(); // libbpf stored the position past the copied record
                }
            }

            return true;
        }

        if (rc != -Errno.EINTR) // a signal, not an error
        {
            Errors.Check(rc, "ring_buffer__poll", null);
        }

        return rc > 0;
    }

    private static bool Cut(Ring r, int index, int maxBytes, out RingSegment segment)
    {
        if (!r.Memory.TryCut(maxBytes, out ulong start, out ulong end))
        {
            segment = default;
            return false;
        }

        segment = new RingSegment(r, index, start, end);
        return true;
    }

    private int ConsumeRings()
    {
        long total = 0;
        for (int i = 0; i < _rings.Count; i++)
        {
            Ring r = _rings[i];
            if (r.Consumer is null)
            {
                continue;
            }

            if (r.FirstLength >= 0)
            {
                int length = r.FirstLength;
                r.FirstLength = -1;
                total++;
                r.Samples++;
                r.ByteCount += length;
                if (!r.Deliver(r.First.AsSpan(0, length)))
                {
                    _stopped = true;
                    return (int)Math.Min(int.MaxValue, total);
                }
            }

            while (Cut(r, i, ConsumerSegmentBytes, out RingSegment segment))
            {
                RingSegment.Reader e = segment.GetEnumerator();
                while (e.MoveNext())
                {
                    total++;
                    if (!r.Deliver(e.Current))
                    {
                        // The consumer asked to stop: what follows this record stays for the next call.
                        e.Release();
                        _stopped = true;
                        return (int)Math.Min(int.MaxValue, total);
                    }
                }

                e.Release();
                if (e.Position < segment.End)
                {
                    break; // a record still being written: the next call reads on from it
                }
            }
        }

        return (int)Math.Min(int.MaxValue, total);
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

            // Idle: free now (or once the last segment is released). In a call: the call frees on its way out (Exit).
            int next = state == Idle ? Disposed : DisposeRequested;
            if (Interlocked.CompareExchange(ref _state, next, state) == state)
            {
                if (next == Disposed)
                {
                    _native.FreeWhenReleased();
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
            return _native.Rb;
        }

        ObjectDisposedException.ThrowIf(state is Disposed or DisposeRequested, this);
        throw new InvalidOperationException(
            "The ring buffer is already in Wait, Poll, Consume, TryCut or Add: call it from one thread at a time, never from a consumer.");
    }

    private void Exit()
    {
        if (Interlocked.CompareExchange(ref _state, Idle, InCall) == DisposeRequested)
        {
            Volatile.Write(ref _state, Disposed);
            _native.FreeWhenReleased();
        }
    }

    /// <summary>The libbpf ring_buffer and its rings, freed once, when nothing reads their pages any more.</summary>
    internal sealed class NativeState
    {
        public readonly List<Ring> Rings = [];
        public nint Rb;
        private readonly Lock _gate = new();
        private volatile bool _freeWhenReleased;

        // A reader may still hold segments (on another thread): their pages stay mapped until the last is released.
        public void FreeWhenReleased()
        {
            lock (_gate)
            {
                _freeWhenReleased = true;
                if (Rings.TrueForAll(r => r.Memory.AllReleased))
                {
                    Free();
                }
            }
        }

        public void AfterRelease()
        {
            if (_freeWhenReleased)
            {
                FreeWhenReleased();
            }
        }

        public void Free()
        {
            nint rb = Interlocked.Exchange(ref Rb, 0);
            if (rb != 0)
            {
                Interop.Libbpf.ring_buffer__free(rb);
                foreach (Ring r in Rings)
                {
                    r.Handle.Free();
                    r.Memory.Dispose();
                }
            }
        }
    }

    private Ring NewRing(BpfMap map, IRingBufferConsumer? consumer)
    {
        if (map.Type != BpfMapType.RingBuffer)
        {
            throw new ArgumentException($"Map '{map.Name}' is a {map.Type} map, not a ring buffer.", nameof(map));
        }

        var ring = new Ring(_native, map.Name, consumer, new RingMemory(map.Fd, map.MaxEntries, map.Name));
        ring.Handle = GCHandle.Alloc(ring);
        return ring;
    }

    [UnmanagedCallersOnly]
    private static int OnFirstRecord(void* ctx, void* data, nuint size)
    {
        try
        {
            Ring ring = Unsafe.As<Ring>(GCHandle.FromIntPtr((nint)ctx).Target!);
            ring.KeepFirst(new ReadOnlySpan<byte>(data, (int)size));
        }
        catch (Exception)
        {
            // Never let an exception reach libbpf: it would abort the process.
        }

        return HandOff;
    }

    /// <summary>One ring: its mapped pages, its slot for the first record after a wait, its consumer and counts.</summary>
    internal sealed class Ring(NativeState owner, string mapName, IRingBufferConsumer? consumer, RingMemory memory) : RingStatistics
    {
        public GCHandle Handle;
        public readonly IRingBufferConsumer? Consumer = consumer;
        public readonly RingMemory Memory = memory;
        public byte[] First = new byte[256];
        public int FirstLength = -1;
        public long Samples;
        public long ByteCount;
        public long ConsumerErrors;
        public Exception? LastError;

        public void KeepFirst(ReadOnlySpan<byte> record)
        {
            if (First.Length < record.Length)
            {
                First = new byte[Math.Max(record.Length, First.Length * 2)];
            }

            record.CopyTo(First);
            FirstLength = record.Length;
        }

        public void Release(ulong position)
        {
            Memory.Release(position);
            owner.AfterRelease();
        }

        /// <summary>Hands a sample to the consumer; a consumer exception is caught and counted (the sample counts as consumed).</summary>
        public bool Deliver(ReadOnlySpan<byte> sample)
        {
            try
            {
                return Consumer!.OnSample(sample);
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

        public override long BytesReceived => Volatile.Read(ref ByteCount);

        public override long ConsumerExceptions => Volatile.Read(ref ConsumerErrors);

        public override Exception? LastConsumerException => LastError;
    }
}

/// <summary>Counters of one ring of a <see cref="RingBuffer"/>.</summary>
public abstract class RingStatistics
{
    public abstract string MapName { get; }

    /// <summary>Samples taken out of the ring (cut into segments, or handed to the consumer).</summary>
    public abstract long SamplesReceived { get; }

    public abstract long BytesReceived { get; }

    /// <summary>Exceptions the consumer threw (caught; the sample counts as consumed).</summary>
    public abstract long ConsumerExceptions { get; }

    public abstract Exception? LastConsumerException { get; }
}
