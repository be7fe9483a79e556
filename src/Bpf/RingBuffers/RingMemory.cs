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
/// and space goes back to the producer only once they were read. One segment of a ring is out at a time: a cut
/// takes everything written so far, so a second one has nothing to wait for, and a reader that stops early hands the
/// rest back by releasing up to where it stopped.
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

    /// <summary>Whether the segment cut last was released (the kernel's consumer position is the cut position).</summary>
    public bool AllReleased => _data is null || Volatile.Read(ref *_consumerPos) == Volatile.Read(ref _cut);

    /// <summary>Whether the producer has written past the cut position.</summary>
    public bool HasUncut => _data is not null && Volatile.Read(ref *_producerPos) > _cut;

    /// <summary>
    /// libbpf moved the consumer position itself (its callback took a record): cutting continues from there.
    /// Only valid while every earlier cut is released.
    /// </summary>
    public void FollowConsumer() => Volatile.Write(ref _cut, Volatile.Read(ref *_consumerPos));

    /// <summary>
    /// Takes everything the producer has written from the cut position on, without reading it: the reader walks the
    /// records (<see cref="RingSegment.Reader"/>) and stops at one still being written. False while the last segment
    /// is out (it may stop early and hand the rest back), when there is nothing new, or when the next record is still
    /// being written (a wait then wakes when it is committed: the kernel wakes a consumer waiting at that record).
    /// </summary>
    public bool TryCut(out ulong start, out ulong end)
    {
        byte* data = _data;
        ObjectDisposedException.ThrowIf(data is null, this);
        ulong cut = _cut;
        start = end = cut;
        if (Volatile.Read(ref *_consumerPos) != cut)
        {
            return false;
        }

        // The producer writes a record's header (busy) before it publishes the position past it.
        ulong prod = Volatile.Read(ref *_producerPos);
        if (prod == cut || (Volatile.Read(ref *(uint*)(data + (cut & (_dataSize - 1)))) & BusyBit) != 0)
        {
            return false;
        }

        end = prod;
        Volatile.Write(ref _cut, prod);
        return true;
    }

    /// <summary>The data pages, for a reader's loop.</summary>
    internal byte* Data => _data;

    internal ulong DataSize => _dataSize;

    internal InvalidDataException Corrupt(uint size, ulong pos, ulong end) =>
        new($"Ring buffer map '{_mapName}': a record of {size} bytes at position {pos} runs past the producer position {end}; the {end - pos} bytes from there were skipped.");

    /// <summary>
    /// Gives the ring space before <paramref name="position"/> back to the kernel. Before the cut position: the reader
    /// stopped early (a record still being written, or its consumer stopped), and cutting continues from there.
    /// </summary>
    public void Release(ulong position)
    {
        ulong* consumer = _consumerPos;
        if (consumer is null)
        {
            return;
        }

        if (position < _cut)
        {
            Volatile.Write(ref _cut, position); // before the consumer position: whoever sees it released sees the cut
        }

        Volatile.Write(ref *consumer, position);
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
