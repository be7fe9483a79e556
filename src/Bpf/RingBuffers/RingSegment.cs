namespace Bpf;

/// <summary>
/// A run of committed records of one ring of a <see cref="RingBuffer"/>, in order, read where they lie in the
/// ring's pages: what <see cref="RingBuffer.TryCut"/> hands out and what a reader gives back with
/// <see cref="Release"/>. Until it is released the kernel cannot reuse its space, so its records stay valid on any
/// thread; once released they must not be read. Segments of one ring are read by one thread at a time and
/// released in the order they were cut (releasing one releases every earlier one of its ring).
/// </summary>
public readonly struct RingSegment
{
    private readonly RingBuffer.Ring? _ring;
    private readonly ulong _start;
    private readonly ulong _end;

    internal RingSegment(RingBuffer.Ring ring, int index, ulong start, ulong end, int count, long bytes)
    {
        _ring = ring;
        _start = start;
        _end = end;
        Ring = index;
        Count = count;
        Bytes = bytes;
    }

    /// <summary>The ring's index in its ring buffer (the order rings were added).</summary>
    public int Ring { get; }

    /// <summary>Records in the segment (discarded ones are skipped and not counted).</summary>
    public int Count { get; }

    /// <summary>Sample bytes in the segment, headers and padding not included.</summary>
    public long Bytes { get; }

    public bool IsEmpty => _ring is null;

    /// <summary>Walks the records in order; each span is valid until the segment is released.</summary>
    public Enumerator GetEnumerator() => new(_ring?.Memory, _start, _end);

    /// <summary>Gives the segment's space back to the kernel. Call once, after its last record was read.</summary>
    public void Release() => _ring?.Release(_end);

    /// <summary>Reads a segment's records where they lie, skipping discarded ones.</summary>
    public ref struct Enumerator
    {
        private readonly RingMemory? _memory;
        private readonly ulong _end;
        private ulong _pos;
        private ReadOnlySpan<byte> _current;

        internal Enumerator(RingMemory? memory, ulong start, ulong end)
        {
            _memory = memory;
            _pos = start;
            _end = end;
        }

        public readonly ReadOnlySpan<byte> Current => _current;

        /// <summary>Ring position just after <see cref="Current"/> (for a reader that stops early).</summary>
        internal readonly ulong Position => _pos;

        public bool MoveNext()
        {
            while (_pos < _end)
            {
                _current = _memory!.RecordAt(_pos, out _pos, out bool discarded);
                if (!discarded)
                {
                    return true;
                }
            }

            return false;
        }
    }
}
