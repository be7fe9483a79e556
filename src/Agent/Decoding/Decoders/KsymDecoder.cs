namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>ksym</c>: a kernel address as the name of the function containing it, from /proc/kallsyms. An unknown address,
/// or every address when kallsyms shows none (no root or CAP_SYSLOG, kptr_restrict), is <c>unknown_addr:</c> and its
/// hex form, as ebpf_exporter writes it; the latter is said once in the log.
/// </summary>
public sealed class KsymDecoder(DecoderContext context) : LabelDecoder
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new KsymDecoder(context) : null;
    }

    public override string? Decode(ReadOnlySpan<byte> input) =>
        TryReadUnsigned(input, out ulong address) ? Named(Resolve(context.Symbols, address)) : $"unparsable:{input.Length}_bytes";

    public override string? DecodeInteger(long value, int widthBits) => Named(Resolve(context.Symbols, (ulong)value));

    public override string? Bind(EventField field) => NeedsInteger(field, "ksym");

    /// <summary>A symbol as it is, an address no symbol holds as ebpf_exporter writes it: <c>unknown_addr:0x...</c>.</summary>
    private static string Named(string resolved) =>
        resolved.StartsWith("0x", StringComparison.Ordinal) ? "unknown_addr:" + resolved : resolved;

    /// <summary>The symbol of <paramref name="address"/>, or hex (saying once why, when kallsyms is unreadable).</summary>
    internal static string Resolve(KernelSymbols symbols, ulong address)
    {
        if (symbols.Count == 0)
        {
            DecoderNotices.Once($"{symbols.Path} lists no kernel addresses (the agent needs root or CAP_SYSLOG, and kernel.kptr_restrict < 2): ksym and kstack labels are hex addresses");
        }

        return symbols.Resolve(address);
    }
}
