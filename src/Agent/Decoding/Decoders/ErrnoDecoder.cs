namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>errno</c>: an errno number as its name (ENOENT). Kernel return values are negative errnos: both signs name the
/// same error. 0 stays "0"; a number with no name is "unknown:" and the number (ebpf_exporter's text).
/// </summary>
public sealed class ErrnoDecoder() : NumberDecoder("errno")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new ErrnoDecoder() : null;
    }

    protected override string? DecodeNumber(long value) => ValueNames.Errno(value);
}
