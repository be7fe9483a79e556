using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A BPF_MAP_TYPE_USER_RINGBUF map seen from user space: reserve a sample, fill it, submit it (or discard
/// it); BPF programs read submitted samples with <c>bpf_user_ringbuf_drain</c>. One producer thread at a time.
/// </summary>
/// <remarks>
/// Every reservation is tracked until it is submitted or discarded: libbpf would otherwise write the header
/// of whatever record sits at a stale or foreign address (it masks the pointer into the ring), silently
/// corrupting the ring. Such misuse throws <see cref="InvalidOperationException"/> instead.
/// </remarks>
public sealed unsafe class UserRingBuffer : IDisposable
{
    private readonly string _mapName;

    // Outstanding reservations: sample address -> the token of the reservation that owns it.
    private readonly Dictionary<nint, long> _reserved = [];
    private long _nextToken;
    private nint _rb;

    public UserRingBuffer(BpfMap map)
    {
        if (map.Type != BpfMapType.UserRingBuffer)
        {
            throw new ArgumentException($"Map '{map.Name}' is a {map.Type} map, not a user ring buffer.", nameof(map));
        }

        _mapName = map.Name;
        _rb = Errors.CheckPointer(Interop.Libbpf.user_ring_buffer__new(map.Fd, null), "user_ring_buffer__new", _mapName);
    }

    ~UserRingBuffer() => Free();

    private nint Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_rb == 0, this);
            return _rb;
        }
    }

    /// <summary>Reserves <paramref name="size"/> bytes; false when the ring is full (ENOSPC).</summary>
    public bool TryReserve(int size, out UserRingBufferSample sample)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        void* p = Interop.Libbpf.user_ring_buffer__reserve(Pointer, (uint)size);
        if (p == null)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENOSPC)
            {
                sample = default;
                return false;
            }

            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, "user_ring_buffer__reserve", _mapName);
        }

        sample = Track(p, size);
        return true;
    }

    /// <summary>Reserves <paramref name="size"/> bytes; throws <see cref="BpfException"/> (ENOSPC) when full.</summary>
    public UserRingBufferSample Reserve(int size) => TryReserve(size, out UserRingBufferSample s)
        ? s
        : throw BpfException.FromErrno(Errno.ENOSPC, "user_ring_buffer__reserve", _mapName);

    /// <summary>
    /// Reserves, waiting up to <paramref name="timeout"/> for the kernel side to drain enough room.
    /// False when the time ran out.
    /// </summary>
    public bool TryReserve(int size, TimeSpan timeout, out UserRingBufferSample sample)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        int ms = timeout == Timeout.InfiniteTimeSpan ? -1 : (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue);
        void* p = Interop.Libbpf.user_ring_buffer__reserve_blocking(Pointer, (uint)size, ms);
        if (p == null)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno is Errno.ENOSPC or Errno.ETIMEDOUT or Errno.EINTR)
            {
                sample = default;
                return false;
            }

            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, "user_ring_buffer__reserve_blocking", _mapName);
        }

        sample = Track(p, size);
        return true;
    }

    /// <summary>Publishes a reserved sample to the BPF side.</summary>
    public void Submit(UserRingBufferSample sample) => Interop.Libbpf.user_ring_buffer__submit(Release(sample), sample.Pointer);

    /// <summary>Gives a reserved sample back unpublished; the BPF side never sees it.</summary>
    public void Discard(UserRingBufferSample sample) => Interop.Libbpf.user_ring_buffer__discard(Release(sample), sample.Pointer);

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    /// <summary>The sample's memory, if it is still reserved from this ring; throws otherwise.</summary>
    internal void CheckReserved(in UserRingBufferSample sample)
    {
        _ = Pointer;
        if (!ReferenceEquals(sample.Owner, this)
            || !_reserved.TryGetValue((nint)sample.Pointer, out long token) || token != sample.Token)
        {
            throw new InvalidOperationException(
                $"User ring buffer '{_mapName}': the sample is not reserved from it (never reserved, already submitted or discarded, or from another ring).");
        }
    }

    private UserRingBufferSample Track(void* p, int size)
    {
        long token = ++_nextToken;
        _reserved[(nint)p] = token;
        return new UserRingBufferSample(this, p, size, token);
    }

    private nint Release(in UserRingBufferSample sample)
    {
        nint rb = Pointer;
        CheckReserved(sample);
        _reserved.Remove((nint)sample.Pointer);
        return rb;
    }

    private void Free()
    {
        nint rb = Interlocked.Exchange(ref _rb, 0);
        if (rb != 0)
        {
            Interop.Libbpf.user_ring_buffer__free(rb);
        }
    }
}

/// <summary>A reserved, not yet submitted sample of a <see cref="UserRingBuffer"/>.</summary>
public readonly unsafe struct UserRingBufferSample
{
    internal UserRingBufferSample(UserRingBuffer owner, void* pointer, int length, long token)
    {
        Owner = owner;
        Pointer = pointer;
        Length = length;
        Token = token;
    }

    internal UserRingBuffer? Owner { get; }

    internal void* Pointer { get; }

    internal long Token { get; }

    public int Length { get; }

    /// <summary>
    /// The sample's bytes, to fill before Submit. Throws once the sample was submitted or discarded (its memory
    /// belongs to the kernel then) and after the ring buffer was disposed (the memory is unmapped).
    /// </summary>
    public Span<byte> Data
    {
        get
        {
            if (Owner is null)
            {
                throw new InvalidOperationException("Empty user ring buffer sample.");
            }

            Owner.CheckReserved(this);
            return new Span<byte>(Pointer, Length);
        }
    }
}
