using Bpf;

namespace BpfAgent.Pipeline;

/// <summary>
/// The unit that crosses the channel from the poll thread to the worker: at most one <see cref="RingSegment"/>
/// (records the worker reads where they lie in the ring's pages; the worker gives their space back to the kernel
/// once done) and, before it, samples copied into a pooled buffer (the first record of a wakeup, which libbpf has
/// already given back, so it can only travel as a copy). One channel write per batch, not per sample.
/// </summary>
public sealed class SampleBatch
{
    private readonly SampleRef[] _entries;

    public SampleBatch(int bytes)
    {
        Data = GC.AllocateArray<byte>(bytes, pinned: true); // the worker's chunks point into it
        _entries = new SampleRef[Math.Max(64, bytes / 32)]; // room for samples of 32 bytes and up; smaller ones end a batch early
    }

    public byte[] Data { get; }

    public int Count { get; private set; }

    public int UsedBytes { get; private set; }

    /// <summary>The ring table the entries' ring ids index (it changes on reload).</summary>
    public RingSource[] Rings { get; set; } = [];

    public bool IsEmpty => Count == 0 && Segment.IsEmpty;

    /// <summary>Records read in place, after the copied samples; its <see cref="RingSegment.Ring"/> indexes <see cref="Rings"/>.</summary>
    public RingSegment Segment { get; private set; }

    /// <summary>Attaches the segment; a batch carries one, which ends it.</summary>
    public void SetSegment(RingSegment segment)
    {
        if (!Segment.IsEmpty)
        {
            throw new InvalidOperationException("A batch carries one ring segment.");
        }

        Segment = segment;
    }

    public bool TryAdd(int ring, ReadOnlySpan<byte> sample)
    {
        if (Count == _entries.Length || UsedBytes + sample.Length > Data.Length)
        {
            return false;
        }

        sample.CopyTo(Data.AsSpan(UsedBytes));
        _entries[Count++] = new SampleRef(ring, UsedBytes, sample.Length);
        UsedBytes += sample.Length;
        return true;
    }

    public int RingOf(int index) => _entries[index].Ring;

    public ReadOnlySpan<byte> Sample(int index)
    {
        SampleRef e = _entries[index];
        return new ReadOnlySpan<byte>(Data, e.Offset, e.Length);
    }

    public void Reset()
    {
        Segment = default;
        Count = 0;
        UsedBytes = 0;
        Rings = [];
    }

    private readonly record struct SampleRef(int Ring, int Offset, int Length);
}
