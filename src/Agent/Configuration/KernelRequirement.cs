namespace BpfAgent.Configuration;

/// <summary>How a <see cref="KernelRequirement"/> is checked.</summary>
public enum KernelRequirementKind
{
    /// <summary>A map type the kernel can create (libbpf_probe_bpf_map_type).</summary>
    MapType,

    /// <summary>A helper tracing programs may call (libbpf_probe_bpf_helper).</summary>
    Helper,

    /// <summary>A kfunc: a function in the kernel's BTF (what <c>bpf_ksym_exists</c> checks in the object).</summary>
    Kfunc,

    /// <summary>A type in the kernel's BTF (what <c>bpf_core_type_exists</c> checks in the object).</summary>
    Type,
}

/// <summary>
/// One kernel feature a program-set variant needs, with the words an operator reads when the kernel lacks it.
/// Named features (<c>task_storage</c>, <c>get_current_task_btf</c>...) carry the first Linux version that has
/// them; <c>kfunc:NAME</c> and <c>type:NAME</c> name any kfunc or kernel type.
/// </summary>
public sealed record KernelRequirement(string Name, KernelRequirementKind Kind, string Subject, int Id, string Words)
{
    private static readonly KernelRequirement[] s_named =
    [
        new("ringbuf", KernelRequirementKind.MapType, "ringbuf", 27, "BPF ring buffers (Linux 5.8+)"),
        new("task_storage", KernelRequirementKind.MapType, "task_storage", 29, "task storage maps (Linux 5.11+)"),
        new("inode_storage", KernelRequirementKind.MapType, "inode_storage", 28, "inode storage maps (Linux 5.10+)"),
        new("bloom_filter", KernelRequirementKind.MapType, "bloom_filter", 30, "bloom filter maps (Linux 5.16+)"),
        new("user_ringbuf", KernelRequirementKind.MapType, "user_ringbuf", 31, "user ring buffers (Linux 6.1+)"),
        new("get_current_task_btf", KernelRequirementKind.Helper, "bpf_get_current_task_btf", 158, "the bpf_get_current_task_btf helper (Linux 5.11+)"),
        new("task_storage_get", KernelRequirementKind.Helper, "bpf_task_storage_get", 156, "the bpf_task_storage_get helper in tracing programs (Linux 5.11+)"),
        new("ringbuf_query", KernelRequirementKind.Helper, "bpf_ringbuf_query", 134, "the bpf_ringbuf_query helper (Linux 5.8+)"),
        new("loop", KernelRequirementKind.Helper, "bpf_loop", 181, "the bpf_loop helper (Linux 5.17+)"),
    ];

    // First versions of kfuncs shipped programs use, for the words; any other kfunc is named without one.
    private static readonly Dictionary<string, string> s_kfuncSince = new(StringComparer.Ordinal)
    {
        ["bpf_rdonly_cast"] = "6.2",
        ["bpf_cast_to_kern_ctx"] = "6.2",
        ["bpf_task_from_pid"] = "6.3",
    };

    /// <summary>The names a variant's <c>requires</c> may use, for error messages and docs.</summary>
    public static IEnumerable<string> KnownNames => s_named.Select(r => r.Name).Concat(["kfunc:NAME", "type:NAME"]);

    /// <summary>Parses a name from a variant's <c>requires</c>; null when it is not one.</summary>
    public static KernelRequirement? Parse(string name)
    {
        if (s_named.FirstOrDefault(r => r.Name == name) is KernelRequirement named)
        {
            return named;
        }

        if (name.StartsWith("kfunc:", StringComparison.Ordinal) && IsIdentifier(name[6..]))
        {
            string f = name[6..];
            string since = s_kfuncSince.TryGetValue(f, out string? v) ? $" (Linux {v}+)" : "";
            return new(name, KernelRequirementKind.Kfunc, f, 0, $"the {f} kfunc{since}");
        }

        if (name.StartsWith("type:", StringComparison.Ordinal) && IsIdentifier(name[5..]))
        {
            return new(name, KernelRequirementKind.Type, name[5..], 0, $"the kernel type '{name[5..]}' in its BTF");
        }

        return null;
    }

    private static bool IsIdentifier(string s) =>
        s.Length > 0 && (char.IsAsciiLetter(s[0]) || s[0] == '_') && s.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');
}
