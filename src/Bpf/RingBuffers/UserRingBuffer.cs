using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>
/// A BPF_MAP_TYPE_USER_RINGBUF map seen from user space: reserve a sample, fill it, submit it (or discard
/// it); BPF programs read submitted samples with <c>bpf_user_ringbuf_drain</c>. One producer thread at a time.
/// </summary>
public sealed unsafe class UserRingBuffer : IDisposable
{
    private readonly string _mapName;
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
            if (errno == 28)
            {
                sample = default;
                return false;
            }

            throw BpfException.FromErrno(errno == 0 ? 22 : errno, "user_ring_buffer__reserve", _mapName);
        }

        sample = new UserRingBufferSample(p, size);
        return true;
    }

    /// <summary>Reserves <paramref name="size"/> bytes; throws <see cref="BpfException"/> (ENOSPC) when full.</summary>
    public UserRingBufferSample Reserve(int size) => TryReserve(size, out UserRingBufferSample s)
        ? s
        : throw BpfException.FromErrno(28, "user_ring_buffer__reserve", _mapName);

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
            if (errno is 28 or 110 or 4)
            {
                sample = default;
                return false;
            }

            throw BpfException.FromErrno(errno == 0 ? 22 : errno, "user_ring_buffer__reserve_blocking", _mapName);
        }

        sample = new UserRingBufferSample(p, size);
        return true;
    }

    /// <summary>Publishes a reserved sample to the BPF side.</summary>
    public void Submit(UserRingBufferSample sample) => Interop.Libbpf.user_ring_buffer__submit(Pointer, sample.Pointer);

    /// <summary>Gives a reserved sample back unpublished; the BPF side never sees it.</summary>
    public void Discard(UserRingBufferSample sample) => Interop.Libbpf.user_ring_buffer__discard(Pointer, sample.Pointer);

    public void Dispose()
    {
        if (_rb != 0)
        {
            Interop.Libbpf.user_ring_buffer__free(_rb);
            _rb = 0;
        }
    }
}

/// <summary>A reserved, not yet submitted sample of a <see cref="UserRingBuffer"/>.</summary>
public readonly unsafe struct UserRingBufferSample
{
    internal UserRingBufferSample(void* pointer, int length)
    {
        Pointer = pointer;
        Length = length;
    }

    internal void* Pointer { get; }

    public int Length { get; }

    /// <summary>The sample's bytes, to fill before Submit.</summary>
    public Span<byte> Data => Pointer == null
        ? throw new InvalidOperationException("Empty user ring buffer sample.")
        : new Span<byte>(Pointer, Length);
}
