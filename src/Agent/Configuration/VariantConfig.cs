namespace BpfAgent.Configuration;

/// <summary>
/// One way of running a set's object on kernels that have <see cref="Requires"/>: the programs (and maps only they
/// use) of this variant. The agent loads the first variant, in the order listed, whose requirements the running
/// kernel meets; the programs and maps of the other variants are neither loaded nor created. Programs and maps no
/// variant lists are always loaded.
/// </summary>
public sealed record VariantConfig
{
    public required string Name { get; init; }

    public required string Key { get; init; }

    public IReadOnlyList<string> Programs { get; init; } = [];

    public IReadOnlyList<string> Maps { get; init; } = [];

    public IReadOnlyList<KernelRequirement> Requires { get; init; } = [];
}
