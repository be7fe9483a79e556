namespace BpfAgent.Configuration;

/// <summary>
/// A hash map (key: u64 cgroup id, value: u64) the agent keeps holding the cgroups whose path matches one of
/// <see cref="Regexps"/>, following cgroups created and removed, so a program can select cgroups by looking its
/// <c>bpf_get_current_cgroup_id()</c> up (ebpf_exporter's <c>cgroup_id_map</c>).
/// </summary>
public sealed record CgroupIdMapConfig(string Map, IReadOnlyList<string> Regexps, string Key);
