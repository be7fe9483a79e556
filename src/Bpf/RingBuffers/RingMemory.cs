using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Tmds.Linux;

namespace Bpf;

// A ring's pages and the kernel's record format, in one file: RingMemory maps the pages and keeps the positions (cut,
// released), RingSegment is a range of them handed out, and its Reader walks the records in it.

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

/// <summary>
/// A range of one ring of a <see cref="RingBuffer"/> that <see cref="RingBuffer.TryCut"/> handed out without reading
/// it. Its <see cref="Reader"/> reads the records that start in it where they lie in the ring's pages, on any thread,
/// counts them as received, and gives their space back to the kernel (<see cref="Reader.Release"/>). Until then the
/// kernel cannot reuse that space, so the records stay valid; once released they must not be read. A ring's segments
/// are read one after the other, in the order they were cut, each reader starting where the previous one stopped.
/// </summary>
public readonly struct RingSegment
{
    private readonly RingBuffer.Ring? _ring;
    private readonly ulong _start;
    private readonly ulong _end;

    internal RingSegment(RingBuffer.Ring ring, int index, ulong start, ulong end)
    {
        _ring = ring;
        _start = start;
        _end = end;
        Ring = index;
    }

    /// <summary>The ring's index in its ring buffer (the order rings were added).</summary>
    public int Ring { get; }

    /// <summary>Bytes of ring the segment spans (headers and padding included; a record that starts in it may run past its end).</summary>
    public long SpanBytes => (long)(_end - _start);

    /// <summary>The ring position the segment ends at: its reader reads the records that start before it.</summary>
    public ulong End => _end;

    public bool IsEmpty => _ring is null;

    /// <summary>Reads the records in order (foreach, or the reader itself to release what it read).</summary>
    public Reader GetEnumerator() => new(_ring, _end);

    /// <summary>
    /// Reads a segment's records where they lie, from where the ring's previous reader stopped, skipping discarded
    /// ones, and stops at the first record that starts at or past the end, or at one still being written
    /// (<see cref="Release"/> leaves that one and the rest to the next reader). It gives space back to the kernel as
    /// it goes, so a long segment does not hold its whole range until its end.
    /// </summary>
    public unsafe ref struct Reader
    {
        private const ulong PrefetchBytes = 4096;
        private readonly RingBuffer.Ring? _ring;
        private readonly byte* _data;
        private readonly ulong _mask;
        private readonly ulong _end;
        private readonly ulong _limit; // the producer position when reading began: no record runs past it
        private readonly ulong _releaseStep;
        private ulong _pos;
        private ulong _releaseAt;
        private int _count;
        private long _bytes;
        private bool _counted;
        private ReadOnlySpan<byte> _current;

        internal Reader(RingBuffer.Ring? ring, ulong end)
        {
            _ring = ring;
            if (ring is not null)
            {
                RingMemory memory = ring.Memory;
                _pos = memory.ReadFrom; // where the ring's previous reader stopped
                _end = end;
                _limit = memory.ProducerPosition;
                _data = memory.Data;
                _mask = memory.DataSize - 1;
                _releaseStep = Math.Min(64 * 1024UL, memory.DataSize / 4);
                _releaseAt = _pos + _releaseStep;
            }
        }

        public readonly ReadOnlySpan<byte> Current => _current;

        /// <summary>Records read so far (discarded ones are skipped and not counted).</summary>
        public readonly int Count => _count;

        /// <summary>Sample bytes read so far, headers and padding not included.</summary>
        public readonly long Bytes => _bytes;

        /// <summary>Ring position just after <see cref="Current"/>: where the next read, or the next reader, begins.</summary>
        public readonly ulong Position => _pos;

        [MethodImpl(MethodImplOptions.AggressiveInlining)] // into the reader's loop: its fields then stay in registers
        public bool MoveNext()
        {
            byte* data = _data;
            ulong mask = _mask;
            ulong pos = _pos;
            while (pos < _end)
            {
                uint len = Volatile.Read(ref *(uint*)(data + (pos & mask)));
                if ((len & RingMemory.BusyBit) != 0)
                {
                    break; // still being written: it and what follows go to the next cut
                }

                uint size = len & ~(RingMemory.BusyBit | RingMemory.DiscardBit);
                ulong next = pos + ((size + RingMemory.HeaderBytes + 7UL) & ~7UL);
                if (next > _limit)
                {
                    // Not a record the kernel wrote: skip what was written rather than stop the ring on it for ever.
                    _pos = _limit;
                    throw _ring!.Memory.Corrupt(size, pos, _limit);
                }

                if ((len & RingMemory.DiscardBit) != 0)
                {
                    pos = next;
                    continue;
                }

                if (pos >= _releaseAt)
                {
                    _ring!.Memory.ReleaseSome(pos); // every record before this one was read
                    _releaseAt = pos + _releaseStep;
                }

                ulong offset = (pos & mask) + RingMemory.HeaderBytes;
                _current = offset + size <= mask + 1
                    ? new ReadOnlySpan<byte>(data + offset, (int)size)
                    : _ring!.Memory.Joined(offset, (int)size);
                // A page ahead of the reader, while that is written already: the metrics between two chunks break the
                // hardware's stream, and the first reads of the next chunk would each wait for memory (full drain at 48 B:
                // ~16 -> ~14.5 ns a sample; the transport alone, which reads on without a break, does not change).
                ulong ahead = next + PrefetchBytes;
                if (Sse.IsSupported && ahead < _limit)
                {
                    Sse.Prefetch0(data + (ahead & mask));
                }

                _pos = next;
                _count++;
                _bytes += size;
                return true;
            }

            _pos = pos;
            _current = default;
            CountReceived();
            return false;
        }

        /// <summary>Counts what was read as received by the ring (once; the last <see cref="MoveNext"/> does it too).</summary>
        public void CountReceived()
        {
            if (!_counted && _ring is not null)
            {
                _counted = true;
                _ring.Samples += _count;
                _ring.ByteCount += _bytes;
            }
        }

        /// <summary>
        /// Counts what was read and gives its space back to the kernel. Call once per segment, after the last record was
        /// used, also for a segment not read at all: what was not read (a record still being written, or everything after
        /// a reader that stopped) goes to the ring's next reader.
        /// </summary>
        public void Release()
        {
            CountReceived();
            _ring?.Release(_pos);
        }
    }
}
