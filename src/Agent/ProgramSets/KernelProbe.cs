using System.Collections.Concurrent;
using Bpf;
using BpfAgent.Configuration;

namespace BpfAgent.ProgramSets;

/// <summary>
/// Answers "does the running kernel have this?" for <see cref="KernelRequirement"/>s, once per process: the kernel
/// does not change under a running agent, and each probe costs a map or a verifier run.
/// </summary>
public static class KernelProbe
{
    private static readonly ConcurrentDictionary<(string Name, string? Btf), bool> s_answers = new();

    /// <summary>Whether the kernel has <paramref name="requirement"/>; <paramref name="btfPath"/> is Agent:BtfPath (for types).</summary>
    public static bool Has(KernelRequirement requirement, string? btfPath) =>
        s_answers.GetOrAdd((requirement.Name, requirement.Kind == KernelRequirementKind.Type ? btfPath : null), _ => Probe(requirement, btfPath));

    /// <summary>What the kernel lacks for a map of this type, in words; null when it has it or the agent cannot tell.</summary>
    public static string? MissingMapType(BpfMapType type)
    {
        KernelRequirement? r = KernelRequirement.Parse(type switch
        {
            BpfMapType.RingBuffer => "ringbuf",
            BpfMapType.TaskStorage => "task_storage",
            BpfMapType.InodeStorage => "inode_storage",
            BpfMapType.BloomFilter => "bloom_filter",
            BpfMapType.UserRingBuffer => "user_ringbuf",
            _ => "",
        });
        return r is not null && !Has(r, null) ? r.Words : null;
    }

    private static bool Probe(KernelRequirement r, string? btfPath)
    {
        switch (r.Kind)
        {
            case KernelRequirementKind.MapType:
                return KernelFeatures.SupportsMapType((BpfMapType)r.Id);
            case KernelRequirementKind.Helper:
                // Tracing programs cannot be probed without an attach target; raw tracepoints share their helpers.
                return KernelFeatures.SupportsHelper(BpfProgramType.RawTracepoint, r.Id);
            case KernelRequirementKind.Kfunc:
                // libbpf resolves kfuncs against the kernel's own BTF, never against btf_custom_path.
                return WithBtf(null, btf => btf.HasType(r.Subject, BtfKind.Function));
            default:
                return WithBtf(btfPath, btf => Enum.GetValues<BtfKind>().Where(IsNamedType).Any(k => btf.HasType(r.Subject, k)));
        }
    }

    private static bool IsNamedType(BtfKind k) => k is BtfKind.Struct or BtfKind.Union or BtfKind.Enum or BtfKind.Enum64 or BtfKind.Typedef;

    private static bool WithBtf(string? path, Func<KernelBtf, bool> question)
    {
        KernelBtf btf;
        try
        {
            btf = KernelBtf.Open(path);
        }
        catch (BpfException)
        {
            return false; // no kernel BTF at all: it has no kfunc or type we could use either
        }

        using (btf)
        {
            return question(btf);
        }
    }
}
