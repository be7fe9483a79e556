namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>cgroup</c>: a cgroup v2 id (<c>bpf_get_current_cgroup_id</c>) as the cgroup's path under the cgroup2 mount
/// (found in /proc/self/mountinfo), e.g. "/sys/fs/cgroup/system.slice/ssh.service". An id not found, even after a
/// fresh walk, is "unknown_cgroup_id:ID" (ebpf_exporter's placeholder, the same string each time), counted in
/// <c>bpf_agent_decoder_unknown_values_total{decoder="cgroup"}</c> and looked up again later (it may be created since).
/// </summary>
public sealed class CgroupDecoder(DecoderContext context) : NumberDecoder("cgroup")
{
    /// <summary>Placeholders kept; past it they are still given, just made anew.</summary>
    public const int MaxPlaceholders = 1024;

    private readonly Dictionary<ulong, string> _placeholders = [];

    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new CgroupDecoder(context) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        ulong id = (ulong)value;
        if (context.Cgroups.Find(id) is string path)
        {
            return path;
        }

        DecoderNotices.Unknown("cgroup");
        lock (_placeholders)
        {
            if (_placeholders.TryGetValue(id, out string? p))
            {
                return p;
            }

            p = UnknownPrefix + Invariant(id);
            if (_placeholders.Count < MaxPlaceholders)
            {
                _placeholders[id] = p;
            }

            return p;
        }
    }

    public override bool IsTransient(string? output) => output is not null && output.StartsWith(UnknownPrefix, StringComparison.Ordinal);

    /// <summary>True for this decoder's placeholder of an unknown id, as a later decoder in a chain reads it.</summary>
    internal static bool IsPlaceholder(ReadOnlySpan<byte> text) => text.StartsWith("unknown_cgroup_id:"u8);

    private const string UnknownPrefix = "unknown_cgroup_id:";
}
