using System.Runtime.InteropServices;

namespace Bpf;

/// <summary>What a <see cref="PerfBuffer"/> hands over: each sample, and the samples the kernel lost per CPU.</summary>
public interface IPerfBufferConsumer
{
    /// <summary>A sample written by <c>bpf_perf_event_output</c> on <paramref name="cpu"/>; the span is valid only during the call.</summary>
    void OnSample(int cpu, ReadOnlySpan<byte> data);

    /// <summary>The kernel lost <paramref name="count"/> samples on <paramref name="cpu"/> (its buffer was full).</summary>
    void OnLost(int cpu, ulong count);
}

/// <summary>
/// A libbpf <c>perf_buffer</c> over a BPF_MAP_TYPE_PERF_EVENT_ARRAY: one ring of <c>pageCount</c> pages per CPU.
/// Poll from one thread at a time; dispose after the polling thread stopped. The map's object must outlive it.
/// </summary>
public sealed unsafe class PerfBuffer : IDisposable
{
    private readonly GCHandle _consumer;
    private nint _pb;

    public PerfBuffer(BpfMap map, IPerfBufferConsumer consumer, int pageCount = 8)
    {
        if (map.Type != BpfMapType.PerfEventArray)
        {
            throw new ArgumentException($"map '{map.Name}' is a {map.Type} map, not a perf event array", nameof(map));
        }

        _consumer = GCHandle.Alloc(consumer);
        _pb = Interop.Libbpf.perf_buffer__new(map.Fd, (nuint)pageCount, &OnSample, &OnLost, (void*)GCHandle.ToIntPtr(_consumer), null);
        if (_pb == 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _consumer.Free();
            throw BpfException.FromErrno(errno == 0 ? Errno.EINVAL : errno, "perf_buffer__new", map.Name);
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for samples and hands every one found to the consumer; returns how many.</summary>
    public int Poll(int timeoutMs)
    {
        ObjectDisposedException.ThrowIf(_pb == 0, this);
        int n = Interop.Libbpf.perf_buffer__poll(_pb, timeoutMs);
        if (n < 0 && n != -Errno.EINTR) // a signal, not an error
        {
            throw BpfException.FromErrno(-n, "perf_buffer__poll", null);
        }

        return Math.Max(n, 0);
    }

    public void Dispose()
    {
        if (_pb != 0)
        {
            Interop.Libbpf.perf_buffer__free(_pb);
            _pb = 0;
            _consumer.Free();
        }
    }

    [UnmanagedCallersOnly]
    private static void OnSample(void* ctx, int cpu, void* data, uint size)
    {
        try
        {
            ((IPerfBufferConsumer)GCHandle.FromIntPtr((nint)ctx).Target!).OnSample(cpu, new ReadOnlySpan<byte>(data, (int)size));
        }
        catch (Exception)
        {
            // Never let an exception reach libbpf: it would abort the process.
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLost(void* ctx, int cpu, ulong count)
    {
        try
        {
            ((IPerfBufferConsumer)GCHandle.FromIntPtr((nint)ctx).Target!).OnLost(cpu, count);
        }
        catch (Exception)
        {
        }
    }
}
