using System.Buffers.Binary;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>kstack</c>: a kernel stack as its frames' symbols, innermost first, one a line (as ebpf_exporter joins them).
/// The field is either a stack id (an integer) of the BPF_MAP_TYPE_STACK_TRACE map named by <c>stack_map</c>
/// (the id <c>bpf_get_stackid</c> returned; a negative id is its error, kept as "stack_error:ERRNO"), or an array of
/// u64 addresses (<c>bpf_get_stack</c>) ending at the first zero. Frames resolve like <c>ksym</c>; an unknown one
/// is "??"; without kallsyms, each is its hex address.
/// </summary>
public sealed class KstackDecoder(DecoderContext context, string? mapName) : LabelDecoder
{
    /// <summary>Frames a stack-trace map holds at most (the kernel's default perf_event_max_stack).</summary>
    public const int MaxFrames = 127;

    private IStackTraceSource? _map;

    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected("stack_map");
        return error is null ? new KstackDecoder(context, spec.StackMap) : null;
    }

    public override string? Bind(EventField field)
    {
        if (field.IsInteger && field.Size <= 8)
        {
            if (mapName is null)
            {
                return $"decoder 'kstack' on the integer field '{field.Path}' reads stack ids: add \"stack_map\": the BPF_MAP_TYPE_STACK_TRACE map they index";
            }

            string? problem = context.StackMaps is null ? "the program set passes no stack-trace maps" : context.StackMaps.Problem(mapName);
            return problem is null ? null : $"decoder 'kstack' on field '{field.Path}': {problem}";
        }

        return field.Size % 8 == 0 && field.Shape is FieldShape.ByteArray or FieldShape.Other or FieldShape.CharArray ? null
            : $"decoder 'kstack' needs a stack id (an integer) or an array of u64 addresses, but field '{field.Path}' is {field.Kind} of {field.Size} bytes";
    }

    public override string? DecodeInteger(long value, int widthBits)
    {
        _map ??= mapName is null ? null : context.StackMaps?.Find(mapName);
        if (_map is null)
        {
            return "no_stack_map"; // not loaded yet
        }

        if (widthBits < 64)
        {
            value = Decoders.IntDecoder.SignExtend(value, widthBits);
        }

        if (value < 0)
        {
            return "stack_error:" + ValueNames.Errno(value);
        }

        Span<ulong> frames = stackalloc ulong[MaxFrames];
        int n = _map.Read((uint)value, frames);
        return n < 0 ? "unknown_stack:" + Invariant(value) : Frames(frames[..n]);
    }

    public override string? Decode(ReadOnlySpan<byte> input)
    {
        Span<ulong> frames = stackalloc ulong[MaxFrames];
        int n = 0;
        for (int off = 0; off + 8 <= input.Length && n < frames.Length; off += 8)
        {
            ulong a = BinaryPrimitives.ReadUInt64LittleEndian(input[off..]);
            if (a == 0)
            {
                break;
            }

            frames[n++] = a;
        }

        return Frames(frames[..n]);
    }

    /// <summary>A stack id that is not in the map now may be there later.</summary>
    public override bool IsTransient(string? output) => output is "no_stack_map" || output is not null && output.StartsWith("unknown_stack:", StringComparison.Ordinal);

    private string Frames(ReadOnlySpan<ulong> frames)
    {
        KernelSymbols symbols = context.Symbols;
        var lines = new string[frames.Length];
        for (int i = 0; i < frames.Length; i++)
        {
            string s = KsymDecoder.Resolve(symbols, frames[i]);
            lines[i] = symbols.Count > 0 && s.StartsWith("0x", StringComparison.Ordinal) ? "??" : s;
        }

        return string.Join('\n', lines);
    }
}
