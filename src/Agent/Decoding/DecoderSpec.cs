namespace BpfAgent.Decoding;

/// <summary>
/// One decoder of a label's chain as the config names it, with the parameters some decoders take. A chain is a
/// list of these applied in order, each to the previous one's output (as ebpf_exporter chains them).
/// </summary>
public sealed record DecoderSpec(string Name)
{
    /// <summary>For <c>regexp</c>: the input passes when any of these matches; otherwise the label set is dropped.</summary>
    public IReadOnlyList<string>? Regexps { get; init; }

    /// <summary>For <c>static_map</c> (and <c>map</c>): input text to output text.</summary>
    public IReadOnlyDictionary<string, string>? StaticMap { get; init; }

    /// <summary>For <c>static_map</c>: an input missing from the map passes unchanged instead of "unknown:input".</summary>
    public bool AllowUnknown { get; init; }

    /// <summary>For <c>kstack</c>: the BPF_MAP_TYPE_STACK_TRACE map whose ids the field holds.</summary>
    public string? StackMap { get; init; }

    /// <summary>Why the spec has a parameter its decoder does not take, or null.</summary>
    public string? Unexpected(params string[] takes)
    {
        (string Key, bool Set)[] all =
        [
            ("regexps", Regexps is not null), ("static_map", StaticMap is not null), ("allow_unknown", AllowUnknown), ("stack_map", StackMap is not null),
        ];
        string[] extra = [.. all.Where(p => p.Set && !takes.Contains(p.Key)).Select(p => p.Key)];
        return extra.Length == 0 ? null
            : $"decoder '{Name}' takes no {string.Join(" or ", extra.Select(e => $"\"{e}\""))}" + (takes.Length == 0 ? "" : $" (it takes {string.Join(", ", takes)})");
    }

    public override string ToString() => Name;
}
