using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Bpf;

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
