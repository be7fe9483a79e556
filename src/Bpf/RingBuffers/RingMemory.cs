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
/// Two positions: the cut position (how far records were handed out as a <see cref="RingSegment"/>, this side's
/// own) and the kernel's consumer position (how far they were released; the kernel may overwrite what lies before
/// it). Cutting and releasing are separate so that records can be read after the thread that found them moved on,
/// and space goes back to the producer only once they were read. Segments are cut without reading the records (a
/// segment is a range of ring; its reader finds the records in it), so a reader starts where the previous one
/// stopped, and one that stops early (a record still being written) leaves the rest to the next.
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
    private ulong _cut; // how far segments were cut (the cutting thread's)
    private long _cuts; // segments cut (the cutting thread's)
    private long _released; // segments released (by their readers)
    private ulong _readFrom; // where the next reader starts (the reading thread's; handed over with a release)
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
        _cut = _readFrom = Volatile.Read(ref *_consumerPos);
    }

    /// <summary>Unconsumed bytes (headers and padding included) the kernel has written so far.</summary>
    public long Pending => (long)(Volatile.Read(ref *_producerPos) - Volatile.Read(ref *_consumerPos));

    /// <summary>Whether every segment cut was released (nothing of this ring is being read).</summary>
    public bool AllReleased => _data is null || Volatile.Read(ref _released) == _cuts;

    /// <summary>Whether the producer has written past the cut position.</summary>
    public bool HasUncut => _data is not null && Volatile.Read(ref *_producerPos) > _cut;

    /// <summary>
    /// libbpf moved the consumer position itself (its callback took a record): cutting and reading continue from
    /// there. Only valid while every segment is released.
    /// </summary>
    public void FollowConsumer()
    {
        ulong consumer = Volatile.Read(ref *_consumerPos);
        _readFrom = consumer;
        Volatile.Write(ref _cut, consumer);
    }

    /// <summary>
    /// Takes up to <paramref name="maxBytes"/> of ring past the last cut, without reading it: the segment ends at the
    /// producer position or <paramref name="maxBytes"/> on, wherever a record happens to be there. Readers read the
    /// records that start before a segment's end (<see cref="RingSegment.Reader"/>), each from where the previous
    /// reader of the ring stopped, so a record across the end belongs to the segment it starts in, and a record still
    /// being written (a reader stops there) is read by the next segment's reader, or the next cut's. False when there is
    /// nothing new, or, with nothing out, when the next record is still being written (a wait then wakes when it is
    /// committed: the kernel wakes a consumer waiting at that record).
    /// </summary>
    public bool TryCut(int maxBytes, out ulong start, out ulong end)
    {
        byte* data = _data;
        ObjectDisposedException.ThrowIf(data is null, this);
        ulong prod = Volatile.Read(ref *_producerPos); // the producer writes a record's header (busy) before it publishes the position past it
        if (AllReleased)
        {
            // Nothing out: cutting goes on from where the last reader stopped (before the cut when it met a record still
            // being written).
            ulong from = _readFrom;
            _cut = from;
            if (prod == from || (Volatile.Read(ref *(uint*)(data + (from & (_dataSize - 1)))) & BusyBit) != 0)
            {
                start = end = from;
                return false;
            }
        }

        start = _cut;
        if (prod <= start)
        {
            end = start;
            return false;
        }

        end = Math.Min(prod, start + (ulong)Math.Max(maxBytes, HeaderBytes));
        Volatile.Write(ref _cut, end);
        _cuts++;
        return true;
    }

    /// <summary>Where the next reader of this ring starts: where the last one stopped.</summary>
    internal ulong ReadFrom => _readFrom;

    internal ulong ProducerPosition => Volatile.Read(ref *_producerPos);

    /// <summary>The data pages, for a reader's loop.</summary>
    internal byte* Data => _data;

    internal ulong DataSize => _dataSize;

    internal InvalidDataException Corrupt(uint size, ulong pos, ulong end) =>
        new($"Ring buffer map '{_mapName}': a record of {size} bytes at position {pos} runs past the producer position {end}; the {end - pos} bytes from there were skipped.");

    /// <summary>
    /// A reader is done: it read every record before <paramref name="position"/>, which goes back to the kernel, and the
    /// next reader of the ring starts there. Readers of a ring release in the order their segments were cut.
    /// </summary>
    public void Release(ulong position)
    {
        ulong* consumer = _consumerPos;
        if (consumer is null)
        {
            return;
        }

        _readFrom = position;
        Volatile.Write(ref *consumer, position);
        Interlocked.Increment(ref _released); // last: whoever sees the segment released sees where reading goes on
    }

    /// <summary>Gives space back while a segment is still being read (records before <paramref name="position"/> are done with).</summary>
    internal void ReleaseSome(ulong position) => Volatile.Write(ref *_consumerPos, position);

    // A record that wraps the end of the data pages: its two pieces joined in a scratch buffer.
    internal ReadOnlySpan<byte> Joined(ulong offset, int size)
    {
        if (_scratch.Length < size)
        {
            _scratch = GC.AllocateArray<byte>(Math.Max(size, 256), pinned: true); // readers may keep a pointer to it
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
