namespace BpfAgent.Decoding.Decoders;

/// <summary>
/// <c>container_id</c>, <c>pod_uid</c>, <c>container_runtime</c>: a cgroup v2 id (<c>bpf_get_current_cgroup_id</c>)
/// as one part of the container it belongs to (<see cref="ContainerIdentity"/>): the 64-hex container id, the
/// Kubernetes pod's uid, the runtime (containerd, cri-o, docker, podman; "cri" when a cgroupfs pod path does not
/// name it). The id goes to a path through the <c>cgroup</c> decoder's table (<see cref="CgroupPaths"/>), so it is
/// bounded and looked up again the same way. A host process has the empty value. An id that is not in the table
/// even after a walk is "unknown", counted in <c>bpf_agent_decoder_unknown_values_total{decoder=NAME}</c> and not
/// cached (its cgroup may be created since). After <c>cgroup</c> in a chain it reads the path that decoder gave.
/// </summary>
public sealed class ContainerDecoder(DecoderContext context, string name, Func<ContainerIdentity, string> part) : NumberDecoder(name)
{
    public const string Unknown = "unknown";

    public static LabelDecoder? CreateId(DecoderSpec spec, DecoderContext context, out string? error) =>
        Create(spec, context, "container_id", c => c.ContainerId, out error);

    public static LabelDecoder? CreatePodUid(DecoderSpec spec, DecoderContext context, out string? error) =>
        Create(spec, context, "pod_uid", c => c.PodUid, out error);

    public static LabelDecoder? CreateRuntime(DecoderSpec spec, DecoderContext context, out string? error) =>
        Create(spec, context, "container_runtime", c => c.Runtime, out error);

    private static ContainerDecoder? Create(DecoderSpec spec, DecoderContext context, string name, Func<ContainerIdentity, string> part, out string? error)
    {
        error = spec.Unexpected();
        return error is null ? new ContainerDecoder(context, name, part) : null;
    }

    protected override string? DecodeNumber(long value)
    {
        if (context.Cgroups.Find((ulong)value) is string path)
        {
            return part(ContainerIdentity.Parse(path));
        }

        DecoderNotices.Unknown(Name);
        return Unknown;
    }

    /// <summary>A cgroup path (what <c>cgroup</c> gives before it in a chain), or a number as text.</summary>
    public override string? Decode(ReadOnlySpan<byte> input)
    {
        if (input.Length > 0 && input[0] == (byte)'/')
        {
            return part(ContainerIdentity.Parse(Text(input)));
        }

        return CgroupDecoder.IsPlaceholder(input) ? Unknown : base.Decode(input);
    }

    public override bool IsTransient(string? output) => output == Unknown;
}
