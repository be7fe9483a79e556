namespace Bpf.Tests;

/// <summary>A consumer that keeps a copy of every sample, and can be told to throw or to stop.</summary>
public sealed class SampleCollector : IRingBufferConsumer
{
    public List<byte[]> Samples { get; } = [];

    /// <summary>Stop the poll after this many samples (0: never).</summary>
    public int StopAfter { get; set; }

    /// <summary>Throw on every sample whose index is a multiple of this (0: never).</summary>
    public int ThrowEvery { get; set; }

    public bool OnSample(ReadOnlySpan<byte> sample)
    {
        Samples.Add(sample.ToArray());
        if (ThrowEvery > 0 && Samples.Count % ThrowEvery == 0)
        {
            throw new InvalidOperationException("consumer failure on purpose");
        }

        return StopAfter == 0 || Samples.Count < StopAfter;
    }
}
