namespace BpfAgent.Decoding;

/// <summary>Where <c>kstack</c> reads the frames of a stack id: a program set's BPF_MAP_TYPE_STACK_TRACE map.</summary>
public interface IStackTraceSource
{
    /// <summary>Copies stack <paramref name="id"/>'s frames into <paramref name="frames"/>: how many, or -1 when the map has no such stack.</summary>
    int Read(uint id, Span<ulong> frames);
}

/// <summary>A BPF_MAP_TYPE_STACK_TRACE map of a loaded object as a <see cref="IStackTraceSource"/>.</summary>
public sealed class BpfStackTraceMap : IStackTraceSource
{
    private readonly Bpf.BpfMap _map;

    public BpfStackTraceMap(Bpf.BpfMap map)
    {
        if (map.Type != Bpf.BpfMapType.StackTrace || map.KeySize != 4 || map.ValueSize % 8 != 0)
        {
            throw new ArgumentException($"map '{map.Name}' is {map.Type} with {map.KeySize}-byte keys and {map.ValueSize}-byte values, not a stack-trace map", nameof(map));
        }

        _map = map;
    }

    public int Read(uint id, Span<ulong> frames)
    {
        Span<byte> key = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(key, id);
        byte[] value = new byte[_map.ValueSize];
        if (!_map.TryLookup(key, value))
        {
            return -1;
        }

        int n = 0;
        for (int off = 0; off + 8 <= value.Length && n < frames.Length; off += 8)
        {
            ulong a = BitConverter.ToUInt64(value, off);
            if (a == 0)
            {
                break;
            }

            frames[n++] = a;
        }

        return n;
    }
}
