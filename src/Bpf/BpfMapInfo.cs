using System.Buffers.Binary;

namespace Bpf;

/// <summary>
/// What the kernel reports about a map (struct bpf_map_info), from any map fd: one of a loaded object's
/// maps, or a pinned map opened with <see cref="PinnedBpfMap.Open"/>.
/// </summary>
/// <param name="Id">Kernel map id.</param>
/// <param name="Name">Kernel name (truncated to 15 characters).</param>
/// <param name="Type">Map type.</param>
/// <param name="KeySize">Bytes of a key.</param>
/// <param name="ValueSize">Bytes of one value (for per-CPU maps: of one CPU's slot, before rounding to 8).</param>
/// <param name="MaxEntries">Maximum entries.</param>
/// <param name="Flags">map_flags the map was created with (BPF_F_NO_PREALLOC and others).</param>
/// <param name="BtfId">Kernel id of the BTF the map was created with, 0 if none.</param>
/// <param name="BtfKeyTypeId">Type id of the key in that BTF, 0 if none.</param>
/// <param name="BtfValueTypeId">Type id of the value in that BTF, 0 if none.</param>
public readonly record struct BpfMapInfo(
    uint Id, string Name, BpfMapType Type, int KeySize, int ValueSize, int MaxEntries, uint Flags,
    uint BtfId, uint BtfKeyTypeId, uint BtfValueTypeId)
{
    // struct bpf_map_info (uapi, append-only): type 0, id 4, key_size 8, value_size 12, max_entries 16,
    // map_flags 20, name 24 (16 bytes), ..., btf_id 64, btf_key_type_id 68, btf_value_type_id 72.
    private const int InfoSize = 88;

    /// <summary>Whether values hold one 8-byte-aligned slot per possible CPU.</summary>
    public bool IsPerCpu => BpfMapLayout.IsPerCpu(Type);

    internal static unsafe BpfMapInfo FromFd(int fd, string what)
    {
        byte* info = stackalloc byte[InfoSize];
        new Span<byte>(info, InfoSize).Clear();
        uint len = InfoSize;
        Errors.Check(Interop.Libbpf.bpf_obj_get_info_by_fd(fd, info, &len), "bpf_obj_get_info_by_fd", what);
        var span = new ReadOnlySpan<byte>(info, InfoSize);
        ReadOnlySpan<byte> name = span.Slice(24, 16);
        int nul = name.IndexOf((byte)0);
        return new BpfMapInfo(
            U32(span, 4),
            System.Text.Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]),
            (BpfMapType)U32(span, 0),
            (int)U32(span, 8),
            (int)U32(span, 12),
            (int)U32(span, 16),
            U32(span, 20),
            U32(span, 64),
            U32(span, 68),
            U32(span, 72));
    }

    private static uint U32(ReadOnlySpan<byte> s, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(s[offset..]);
}
