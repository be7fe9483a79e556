namespace BpfAgent.Pipeline;

/// <summary>
/// Samples copied out of the rings by the poll thread, packed into one pooled buffer; the unit that crosses
/// the channel to the workers (one channel write per batch, not per sample).
/// </summary>
public sealed class SampleBatch
{
    private readonly SampleRef[] _entries;

    public SampleBatch(int bytes)
    {
        Data = new byte[bytes];
        _entries = new SampleRef[Math.Max(64, bytes / 32)]; // room for samples of 32 bytes and up; smaller ones end a batch early
    }

    public byte[] Data { get; }

    public int Count { get; private set; }

    public int UsedBytes { get; private set; }

    /// <summary>The ring table the entries' ring ids index (it changes on reload).</summary>
    public RingSource[] Rings { get; set; } = [];

    public bool IsEmpty => Count == 0;

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
        Count = 0;
        UsedBytes = 0;
        Rings = [];
    }

    private readonly record struct SampleRef(int Ring, int Offset, int Length);
}
