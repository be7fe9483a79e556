namespace Bpf;

/// <summary>
/// How the kernel lays map values out in user-space buffers. A per-CPU map's value, as lookups and batched
/// lookups return it, is one slot per possible CPU (not online CPU), each slot the value size rounded up
/// to 8 bytes; a batch of N entries is N such values back to back.
/// </summary>
public static class BpfMapLayout
{
    /// <summary>Map types whose values are per CPU.</summary>
    public static bool IsPerCpu(BpfMapType type) =>
        type is BpfMapType.PerCpuArray or BpfMapType.PerCpuHash or BpfMapType.LruPerCpuHash or BpfMapType.PerCpuCgroupStorage;

    /// <summary>Bytes of one CPU's slot: the value size rounded up to 8.</summary>
    public static int PerCpuSlotSize(int valueSize) => (valueSize + 7) & ~7;

    /// <summary>Bytes of one entry's value in a user-space buffer: per-CPU maps one slot per possible CPU.</summary>
    public static int ValueStride(BpfMapType type, int valueSize) =>
        IsPerCpu(type) ? PerCpuSlotSize(valueSize) * Libbpf.PossibleCpuCount : valueSize;
}
