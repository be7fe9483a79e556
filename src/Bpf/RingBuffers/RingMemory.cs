using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Bpf;

/// <summary>
/// One BPF_MAP_TYPE_RINGBUF map's pages mapped into this process for reading records where they lie, the way
/// libbpf's own consumer and cilium/ebpf's ringbuf.Reader read them: the consumer position page (read-write:
/// advancing it frees space for the kernel), the producer position page and the data pages (read-only).
/// </summary>
/// <remarks>
/// <para>
/// Two positions: the cut position (how far records were handed out as <see cref="RingSegment"/>s, this side's
/// own) and the kernel's consumer position (how far they were released; the kernel may overwrite what lies before
/// it). Cutting and releasing are separate so that records can be read after the thread that found them moved on,
/// and space goes back to the producer only once they were read.
/// </para>
/// <para>
/// The data pages are mapped once, not twice as libbpf does (the kernel allows a second copy after the first so
/// that a record wrapping the end reads as one piece): each mapped page counts in the process's RSS, and the
/// libbpf ring_buffer over the same map already maps them twice. The rare record that wraps is copied into a
/// scratch buffer instead. Record layout (kernel/bpf/ringbuf.c): an 8-byte header whose first 32 bits are the
/// sample length with a busy bit (still being written) and a discard bit, then the sample, padded to 8 bytes.
/// </para>
/// </remarks>
internal sealed unsafe class RingMemory : IDisposable
{
    internal const uint BusyBit = 1u << 31;
    internal const uint DiscardBit = 1u << 30;
    internal const int HeaderBytes = 8;
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapShared = 1;

    private readonly nuint _pageSize;
    private readonly ulong _dataSize;
    private readonly string _mapName;
    private ulong* _consumerPos;
    private ulong* _producerPos;
    private byte* _data;
    private ulong _cut;
    private byte[] _scratch = [];

    public RingMemory(int mapFd, int dataBytes, string mapName)
    {
        if (dataBytes <= 0 || (dataBytes & (dataBytes - 1)) != 0)
        {
            throw new ArgumentException($"Ring buffer map '{mapName}' has {dataBytes} bytes of data; a ring is a power of two of pages.", nameof(dataBytes));
        }

        _mapName = mapName;
        _pageSize = (nuint)Environment.SystemPageSize;
        _dataSize = (ulong)dataBytes;
        void* consumer = LibC.mmap(null, (size_t)(ulong)_pageSize, ProtRead | ProtWrite, MapShared, mapFd, 0);
        if (consumer == (void*)-1)
        {
            throw BpfException.FromErrno(Marshal.GetLastSystemError(), "mmap", $"{mapName}: consumer page");
        }

        void* producer = LibC.mmap(null, (size_t)((ulong)_pageSize + _dataSize), ProtRead, MapShared, mapFd, (long)_pageSize);
        if (producer == (void*)-1)
        {
            int errno = Marshal.GetLastSystemError();
            _ = LibC.munmap(consumer, (size_t)(ulong)_pageSize);
            throw BpfException.FromErrno(errno, "mmap", $"{mapName}: producer and data pages");
        }

        _consumerPos = (ulong*)consumer;
        _producerPos = (ulong*)producer;
        _data = (byte*)producer + _pageSize;
        _cut = Volatile.Read(ref *_consumerPos);
    }

    /// <summary>Unconsumed bytes (headers and padding included) the kernel has written so far.</summary>
    public long Pending => (long)(Volatile.Read(ref *_producerPos) - Volatile.Read(ref *_consumerPos));

    /// <summary>Whether every record cut so far was released (the kernel's consumer position is the cut position).</summary>
    public bool AllReleased => _data is null || Volatile.Read(ref *_consumerPos) == Volatile.Read(ref _cut);

    /// <summary>Whether the producer has written past the cut position.</summary>
    public bool HasUncut => _data is not null && Volatile.Read(ref *_producerPos) > _cut;

    /// <summary>
    /// libbpf moved the consumer position itself (its callback took a record): cutting continues from there.
    /// Only valid while every earlier cut is released.
    /// </summary>
    public void FollowConsumer() => Volatile.Write(ref _cut, Volatile.Read(ref *_consumerPos));

    /// <summary>
    /// Takes the committed records from the cut position on, in order, up to <paramref name="maxBytes"/> of ring
    /// (headers included; at least one record), stopping at a record still being written. Discarded records are
    /// inside the range but not counted. False when there is nothing to take.
    /// </summary>
    public bool TryCut(int maxBytes, out ulong start, out ulong end, out int count, out long bytes)
    {
        // Locals only in the loop: the acquire reads would otherwise make the JIT reload every field per record.
        byte* data = _data;
        ObjectDisposedException.ThrowIf(data is null, this);
        ulong mask = _dataSize - 1;
        ulong pos = _cut;
        ulong first = pos;
        ulong prod = Volatile.Read(ref *_producerPos);
        ulong limit = pos + (ulong)Math.Max(maxBytes, HeaderBytes);
        int n = 0;
        long sum = 0;
        while (pos < prod)
        {
            uint len = Volatile.Read(ref *(uint*)(data + (pos & mask)));
            if ((len & BusyBit) != 0)
            {
                break; // not committed yet: the next cut picks it up
            }

            uint size = len & ~(BusyBit | DiscardBit);
            ulong next = pos + ((size + HeaderBytes + 7UL) & ~7UL);
            if (next > limit && pos > first)
            {
                break;
            }

            if (next > prod)
            {
                throw Corrupt(size, pos, prod);
            }

            if ((len & DiscardBit) == 0)
            {
                n++;
                sum += size;
            }

            pos = next;
        }

        start = first;
        end = pos;
        count = n;
        bytes = sum;
        Volatile.Write(ref _cut, pos);
        return pos > first;
    }

    private InvalidDataException Corrupt(uint size, ulong pos, ulong prod) =>
        new($"Ring buffer map '{_mapName}': a record of {size} bytes at position {pos} runs past the producer position {prod}.");

    /// <summary>Cuts from <paramref name="position"/> again (a reader stopped inside the last segment, which it released up to there).</summary>
    public void Rewind(ulong position) => Volatile.Write(ref _cut, position);

    /// <summary>Gives the ring space before <paramref name="position"/> back to the kernel (in cut order).</summary>
    public void Release(ulong position)
    {
        ulong* consumer = _consumerPos;
        if (consumer is not null)
        {
            Volatile.Write(ref *consumer, position);
        }
    }

    /// <summary>The record whose header is at <paramref name="pos"/>; <paramref name="next"/> is where the following one starts.</summary>
    public ReadOnlySpan<byte> RecordAt(ulong pos, out ulong next, out bool discarded)
    {
        uint len = *(uint*)(_data + (pos & (_dataSize - 1)));
        int size = (int)(len & ~(BusyBit | DiscardBit));
        next = pos + (((ulong)size + HeaderBytes + 7) & ~7UL);
        discarded = (len & DiscardBit) != 0;
        ulong offset = (pos & (_dataSize - 1)) + HeaderBytes;
        if (offset + (ulong)size <= _dataSize)
        {
            return new ReadOnlySpan<byte>(_data + offset, size);
        }

        return Joined(offset, size);
    }

    // A record that wraps the end of the data pages: its two pieces joined in a scratch buffer.
    private ReadOnlySpan<byte> Joined(ulong offset, int size)
    {
        if (_scratch.Length < size)
        {
            _scratch = new byte[Math.Max(size, 256)];
        }

        int first = offset >= _dataSize ? 0 : (int)(_dataSize - offset);
        ulong start = offset >= _dataSize ? offset - _dataSize : offset;
        new ReadOnlySpan<byte>(_data + start, first).CopyTo(_scratch);
        new ReadOnlySpan<byte>(_data + ((start + (ulong)first) % _dataSize), size - first).CopyTo(_scratch.AsSpan(first));
        return _scratch.AsSpan(0, size);
    }

    public void Dispose()
    {
        if (_data is null)
        {
            return;
        }

        ulong* consumer = _consumerPos;
        _consumerPos = null;
        _data = null;
        _ = LibC.munmap(consumer, (size_t)(ulong)_pageSize);
        _ = LibC.munmap(_producerPos, (size_t)((ulong)_pageSize + _dataSize));
        _producerPos = null;
    }
}
