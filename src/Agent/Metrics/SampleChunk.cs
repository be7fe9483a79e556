using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace BpfAgent.Metrics;

/// <summary>
/// Up to <see cref="Capacity"/> samples of one ring, in ring order, that the worker updates the metrics with one
/// metric at a time (the ring's SampleProcessor): each metric's loop then keeps its own state
/// in registers instead of reloading it for every sample between the other metrics' work. The samples stay where
/// they lie (the ring's pages, or a batch's pinned copy buffer) and must stay there until the chunk is cleared.
/// One per worker, reused.
/// </summary>
public sealed unsafe class SampleChunk
{
    /// <summary>Samples a chunk holds: 256 of 48 bytes are 14 KiB, which stays in the core's cache between the metrics.</summary>
    public const int Capacity = 256;

    private readonly nint[] _pointers = new nint[Capacity];
    private readonly int[] _lengths = new int[Capacity];
    private readonly bool[] _failed = new bool[Capacity];

    public int Count { get; private set; }

    public bool IsFull => Count == Capacity;

    /// <summary>The sample a metric's loop is at: where a metric resumes after one of its samples threw.</summary>
    public int At;

    /// <summary>Samples of the chunk that threw in some metric (each counted once).</summary>
    public int FailedCount { get; private set; }

    /// <summary>The last exception a sample threw, for the log.</summary>
    public Exception? LastError { get; private set; }

    public ReadOnlySpan<byte> this[int index]
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new((void*)_pointers[index], _lengths[index]);
    }

    /// <summary>Adds a sample whose memory is fixed (native ring pages or a pinned array) until <see cref="Clear"/>.</summary>
    public void Add(ReadOnlySpan<byte> sample)
    {
        int n = Count;
        _pointers[n] = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(sample));
        _lengths[n] = sample.Length;
        Count = n + 1;
    }

    public bool Failed(int index) => _failed[index];

    /// <summary>The sample at <paramref name="index"/> threw <paramref name="error"/>: it is not delivered.</summary>
    public void Fail(int index, Exception error)
    {
        LastError = error;
        if (!_failed[index])
        {
            _failed[index] = true;
            FailedCount++;
        }
    }

    public void Clear()
    {
        if (FailedCount > 0)
        {
            Array.Clear(_failed, 0, Count);
            FailedCount = 0;
        }

        Count = 0;
        At = 0;
        LastError = null;
    }
}
