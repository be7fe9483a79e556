namespace Bpf;

/// <summary>Receives the samples of one ring of a <see cref="RingBuffer"/>, on the thread that polls.</summary>
public interface IRingBufferConsumer
{
    /// <summary>
    /// Handles one sample. <paramref name="sample"/> points into the ring and is valid only during the call:
    /// copy what you keep. Return false to stop the current Poll/Consume call early (the sample counts as
    /// consumed); true to go on. An exception is caught and counted by the ring buffer, never propagated.
    /// </summary>
    bool OnSample(ReadOnlySpan<byte> sample);
}
