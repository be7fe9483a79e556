using System.Runtime.InteropServices;
using Tmds.Linux;

namespace Bpf;

/// <summary>
/// One BPF_MAP_TYPE_RINGBUF map's pages mapped into this process for reading records in managed code, the way
/// libbpf's own consumer and cilium/ebpf's ringbuf.Reader read them: the consumer position page (read-write:
/// advancing it frees space for the kernel), the producer position page and the data pages (read-only).
/// </summary>
/// <remarks>
/// The data pages are mapped once, not twice as libbpf does (the kernel allows a second copy after the first so
/// that a record wrapping the end reads as one piece): each mapped page counts in the process's RSS, and the
/// libbpf ring_buffer over the same map already maps them twice. The rare record that wraps is copied into a
/// scratch buffer instead. Record layout (kernel/bpf/ringbuf.c): an 8-byte header whose first 32 bits are the
/// sample length with a busy bit (still being written) and a discard bit, then the sample, padded to 8 bytes.
/// </remarks>
internal sealed unsafe class RingMemory : IDisposable
{
    private const uint BusyBit = 1u << 31;
    private const uint DiscardBit = 1u << 30;
    private const int HeaderBytes = 8;
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int MapShared = 1;

    private readonly nuint _pageSize;
    private readonly nuint _dataSize;
    private ulong* _consumerPos;
    private ulong* _producerPos;
    private byte* _data;
    private byte[] _scratch = [];

    public RingMemory(int mapFd, int dataBytes, string mapName)
    {
        if (dataBytes <= 0 || (dataBytes & (dataBytes - 1)) != 0)
        {
            throw new ArgumentException($"Ring buffer map '{mapName}' has {dataBytes} bytes of data; a ring is a power of two of pages.", nameof(dataBytes));
        }

        _pageSize = (nuint)Environment.SystemPageSize;
        _dataSize = (nuint)dataBytes;
        void* consumer = LibC.mmap(null, (size_t)(ulong)_pageSize, ProtRead | ProtWrite, MapShared, mapFd, 0);
        if (consumer == (void*)-1)
        {
            throw BpfException.FromErrno(Marshal.GetLastSystemError(), "mmap", $"{mapName}: consumer page");
        }

        void* producer = LibC.mmap(null, (size_t)(ulong)(_pageSize + _dataSize), ProtRead, MapShared, mapFd, (long)_pageSize);
        if (producer == (void*)-1)
        {
            int errno = Marshal.GetLastSystemError();
            _ = LibC.munmap(consumer, (size_t)(ulong)_pageSize);
            throw BpfException.FromErrno(errno, "mmap", $"{mapName}: producer and data pages");
        }

        _consumerPos = (ulong*)consumer;
        _producerPos = (ulong*)producer;
        _data = (byte*)producer + _pageSize;
    }

    /// <summary>Unconsumed bytes (headers and padding included) the kernel has written so far.</summary>
    public long Pending => (long)(Volatile.Read(ref *_producerPos) - Volatile.Read(ref *_consumerPos));

    /// <summary>
    /// Hands every committed record to <paramref name="sink"/> in order, as libbpf's ring_buffer__consume does: it
    /// keeps going while the producer keeps writing, stops at a record still being written, skips discarded ones,
    /// and stops after the record for which the sink returns false (that record counts as consumed).
    /// </summary>
    /// <returns>Samples handed to the sink.</returns>
    public long Consume<TSink>(ref TSink sink, out bool stopped)
        where TSink : struct, IRecordSink
    {
        ObjectDisposedException.ThrowIf(_data is null, this);
        ulong mask = _dataSize - 1;
        ulong cons = Volatile.Read(ref *_consumerPos);
        long count = 0;
        stopped = false;
        while (true)
        {
            ulong prod = Volatile.Read(ref *_producerPos);
            if (cons >= prod)
            {
                break;
            }

            while (cons < prod)
            {
                byte* header = _data + (cons & mask);
                uint len = Volatile.Read(ref *(uint*)header);
                if ((len & BusyBit) != 0)
                {
                    Volatile.Write(ref *_consumerPos, cons);
                    return count; // not committed yet: the next consume picks it up
                }

                int size = (int)(len & ~(BusyBit | DiscardBit));
                ulong offset = (cons & mask) + HeaderBytes;
                cons += (ulong)(size + HeaderBytes + 7) & ~7UL;
                if ((len & DiscardBit) == 0)
                {
                    count++;
                    if (!sink.OnRecord(Record(offset, size)))
                    {
                        stopped = true;
                        Volatile.Write(ref *_consumerPos, cons);
                        return count;
                    }
                }

                // Free space for the kernel as we go (a small ring would otherwise overflow during a long consume).
                if ((count & 63) == 0)
                {
                    Volatile.Write(ref *_consumerPos, cons);
                }
            }

            Volatile.Write(ref *_consumerPos, cons);
        }

        Volatile.Write(ref *_consumerPos, cons);
        return count;
    }

    private ReadOnlySpan<byte> Record(ulong offset, int size)
    {
        if (offset + (ulong)size <= _dataSize)
        {
            return new ReadOnlySpan<byte>(_data + offset, size);
        }

        // The record wraps the end of the data pages: join its two pieces.
        if (_scratch.Length < size)
        {
            _scratch = new byte[Math.Max(size, 256)];
        }

        int first = offset >= _dataSize ? 0 : (int)(_dataSize - offset);
        ulong start = offset >= _dataSize ? offset - _dataSize : offset;
        new ReadOnlySpan<byte>(_data + start, first).CopyTo(_scratch);
        new ReadOnlySpan<byte>(_data + (start + (ulong)first) % _dataSize, size - first).CopyTo(_scratch.AsSpan(first));
        return _scratch.AsSpan(0, size);
    }

    public void Dispose()
    {
        if (_data is null)
        {
            return;
        }

        _ = LibC.munmap(_consumerPos, (size_t)(ulong)_pageSize);
        _ = LibC.munmap(_producerPos, (size_t)(ulong)(_pageSize + _dataSize));
        _consumerPos = null;
        _producerPos = null;
        _data = null;
    }
}

/// <summary>Receives the records <see cref="RingMemory.Consume"/> walks; a struct so the call is direct.</summary>
internal interface IRecordSink
{
    /// <summary>False to stop consuming after this record.</summary>
    bool OnRecord(ReadOnlySpan<byte> record);
}
