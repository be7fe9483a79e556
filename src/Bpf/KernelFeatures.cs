namespace Bpf;

/// <summary>
/// What the running kernel supports, asked the way libbpf asks it (<c>libbpf_probe_bpf_*</c>: a tiny map or
/// program is created and closed again). Each answer costs a syscall or a verifier run: cache them.
/// </summary>
public static unsafe class KernelFeatures
{
    /// <summary>Whether the kernel can create maps of <paramref name="type"/>.</summary>
    public static bool SupportsMapType(BpfMapType type)
    {
        Libbpf.EnsureSupported();
        return Errors.Check(Interop.Libbpf.libbpf_probe_bpf_map_type((int)type, null), "libbpf_probe_bpf_map_type", type.ToString()) == 1;
    }

    /// <summary>
    /// Whether programs of <paramref name="programType"/> may call the helper with this id (<c>enum bpf_func_id</c>).
    /// libbpf cannot probe types that need an attach target (tracing, LSM, extension, struct_ops): ask for
    /// <see cref="BpfProgramType.RawTracepoint"/>, which shares the tracing helpers.
    /// </summary>
    public static bool SupportsHelper(BpfProgramType programType, int helperId)
    {
        Libbpf.EnsureSupported();
        return Errors.Check(Interop.Libbpf.libbpf_probe_bpf_helper((int)programType, helperId, null),
            "libbpf_probe_bpf_helper", $"{programType} helper {helperId}") == 1;
    }
}
