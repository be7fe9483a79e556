using BpfAgent.Decoding.Decoders;

namespace BpfAgent.Decoding;

/// <summary>Makes one configured decoder from its spec, or says why the spec is wrong.</summary>
public delegate LabelDecoder? DecoderFactory(DecoderSpec spec, DecoderContext context, out string? error);

/// <summary>
/// Every decoder by name: the one table from which the accepted names, the config error text and the JSON
/// Schema's enum come (a test holds the schema to it). Adding a decoder is its file and one line here.
/// </summary>
public static class DecoderRegistry
{
    private static readonly Dictionary<string, DecoderFactory> s_decoders = new(StringComparer.Ordinal)
    {
        // ebpf_exporter's decoders, by its names.
        ["cgroup"] = CgroupDecoder.Create,
        ["dname"] = DnameDecoder.Create,
        ["errno"] = ErrnoDecoder.Create,
        ["hex"] = HexDecoder.Create,
        ["ifname"] = IfnameDecoder.Create,
        ["inet_ip"] = InetIpDecoder.Create,
        ["kstack"] = KstackDecoder.Create,
        ["ksym"] = KsymDecoder.Create,
        ["majorminor"] = MajorMinorDecoder.Create,
        ["pci_class"] = PciClassDecoder.Create,
        ["pci_device"] = PciDeviceDecoder.Create,
        ["pci_subclass"] = PciSubclassDecoder.Create,
        ["pci_vendor"] = PciVendorDecoder.Create,
        ["regexp"] = RegexpDecoder.Create,
        ["static_map"] = StaticMapDecoder.Create,
        ["string"] = StringDecoder.Create,
        ["syscall"] = SyscallDecoder.Create,
        ["uint"] = UintDecoder.Create,

        // bpf-agent's own, kept from its first decoders.
        ["auto"] = AutoDecoder.Create,
        ["container_id"] = ContainerDecoder.CreateId,
        ["container_runtime"] = ContainerDecoder.CreateRuntime,
        ["enum"] = EnumDecoder.Create,
        ["int"] = IntDecoder.Create,
        ["ipv4"] = InetIpDecoder.CreateIpv4,
        ["ipv6"] = InetIpDecoder.CreateIpv6,
        ["map"] = StaticMapDecoder.CreateNumberMap,
        ["pod_uid"] = ContainerDecoder.CreatePodUid,
    };

    /// <summary>The accepted names, sorted.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. s_decoders.Keys.Order(StringComparer.Ordinal)];

    /// <summary>The names that need no parameters, so may be given alone ("decoder": "uint"): the schema's plainDecoder.</summary>
    public static IReadOnlyList<string> PlainNames { get; } =
        [.. Names.Where(n => n == "auto" || s_decoders[n](new DecoderSpec(n), DecoderContext.Default, out _) is not null)];

    /// <summary>The list for an error's fix: "use one of: ...".</summary>
    public static string NameList => string.Join(", ", Names);

    public static bool IsKnown(string name) => s_decoders.ContainsKey(name);

    /// <summary>The decoder <paramref name="spec"/> names, configured, or null with <paramref name="error"/>.</summary>
    public static LabelDecoder? Create(DecoderSpec spec, DecoderContext context, out string? error)
    {
        if (!s_decoders.TryGetValue(spec.Name, out DecoderFactory? factory))
        {
            error = $"'{spec.Name}' is not a decoder; use one of: {NameList}";
            return null;
        }

        return factory(spec, context, out error);
    }
}
