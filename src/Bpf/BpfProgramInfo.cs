using System.Buffers.Binary;

namespace Bpf;

/// <summary>What the kernel reports about a loaded program (struct bpf_prog_info).</summary>
/// <param name="Id">Kernel program id.</param>
/// <param name="Name">Kernel name (truncated to 15 characters).</param>
/// <param name="RunCount">Times the program ran while stats were enabled.</param>
/// <param name="RunTimeNanoseconds">Total run time while stats were enabled.</param>
public readonly record struct BpfProgramInfo(uint Id, string Name, ulong RunCount, ulong RunTimeNanoseconds)
{
    // Offsets in struct bpf_prog_info (uapi, stable): id 4, name 64 (16 bytes), run_time_ns 192, run_cnt 200.
    private const int InfoSize = 232;

    internal static unsafe BpfProgramInfo FromFd(int fd, string what)
    {
        if (fd < 0)
        {
            throw new InvalidOperationException($"Program '{what}' is not loaded.");
        }

        byte* info = stackalloc byte[InfoSize];
        new Span<byte>(info, InfoSize).Clear();
        uint len = InfoSize;
        Errors.Check(Interop.Libbpf.bpf_obj_get_info_by_fd(fd, info, &len), "bpf_obj_get_info_by_fd", what);
        var span = new ReadOnlySpan<byte>(info, InfoSize);
        ReadOnlySpan<byte> name = span.Slice(64, 16);
        int nul = name.IndexOf((byte)0);
        return new BpfProgramInfo(
            BinaryPrimitives.ReadUInt32LittleEndian(span[4..]),
            System.Text.Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]),
            BitConverter.IsLittleEndian ? BitConverter.ToUInt64(span[200..]) : BinaryPrimitives.ReadUInt64BigEndian(span[200..]),
            BitConverter.IsLittleEndian ? BitConverter.ToUInt64(span[192..]) : BinaryPrimitives.ReadUInt64BigEndian(span[192..]));
    }
}
