using System.Runtime.InteropServices;

namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>syscall</c>: a syscall number as its name, by the table of the architecture the agent runs on (x86-64 or
/// arm64, generated from the kernel's uapi headers); an unknown number is "unknown_syscall:" and the number (ebpf_exporter's text).
/// </summary>
public sealed class SyscallDecoder(Architecture architecture) : NumberDecoder("syscall")
{
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new SyscallDecoder(RuntimeInformation.ProcessArchitecture) : null;
    }

    protected override string? DecodeNumber(long value) => ValueNames.Syscall(value, architecture);
}
