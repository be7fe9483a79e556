namespace BpfAgent.Decoding;

/// <summary>
/// What decoders need from their surroundings: the system tables they read (kallsyms, cgroups, pci.ids) and the
/// program set's stack-trace maps. Built once per program set; the system tables are shared by every set.
/// </summary>
public sealed class DecoderContext
{
    private static readonly Lazy<KernelSymbols> s_symbols = new(() => KernelSymbols.Load(KernelSymbols.DefaultPath));
    private static readonly Lazy<CgroupPaths> s_cgroups = new(() =>
    {
        var cgroups = new CgroupPaths(CgroupPaths.FindCgroup2Mount() ?? CgroupPaths.DefaultMount, followEvents: true, resolveByHandle: true);
        Serilog.Log.Information("Decoders: the cgroup table {Mode}", cgroups.Mode);
        return cgroups;
    });
    private static readonly Lazy<PciIds> s_pci = new(() => PciIds.Load(PciIds.DefaultPath));

    /// <summary>The system's tables, no stack maps.</summary>
    public static DecoderContext Default { get; } = new();

    private readonly Func<KernelSymbols>? _symbols;
    private readonly Func<CgroupPaths>? _cgroups;
    private readonly Func<PciIds>? _pci;

    public DecoderContext(Func<KernelSymbols>? symbols = null, Func<CgroupPaths>? cgroups = null, Func<PciIds>? pci = null,
        StackMapBinding? stackMaps = null)
    {
        _symbols = symbols;
        _cgroups = cgroups;
        _pci = pci;
        StackMaps = stackMaps;
    }

    /// <summary>Kernel symbols (loaded on first use).</summary>
    public KernelSymbols Symbols => _symbols?.Invoke() ?? s_symbols.Value;

    /// <summary>The cgroup v2 id-to-path cache (made on first use).</summary>
    public CgroupPaths Cgroups => _cgroups?.Invoke() ?? s_cgroups.Value;

    /// <summary>The PCI names (read on first use).</summary>
    public PciIds Pci => _pci?.Invoke() ?? s_pci.Value;

    /// <summary>The set's stack-trace maps (the set's loader passes them), or null when it has none.</summary>
    public StackMapBinding? StackMaps { get; }
}
