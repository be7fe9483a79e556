using Bpf;

namespace BpfAgent.Decoding;

/// <summary>
/// The hook through which <c>kstack</c> reaches a program set's stack-trace maps. Decoders are built before the
/// object is loaded (a decoder that does not fit is a config error), so the binding checks map names against the
/// open object first and reads the loaded object's maps once <see cref="Attach"/> gave it.
/// </summary>
public sealed class StackMapBinding
{
    private readonly Dictionary<string, string?> _problems = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IStackTraceSource> _sources = new(StringComparer.Ordinal);
    private BpfObject? _loaded;

    /// <summary>Notes every map of <paramref name="open"/>, to check names before load.</summary>
    public static StackMapBinding For(OpenBpfObject open)
    {
        var b = new StackMapBinding();
        foreach (OpenBpfMap m in open.Maps)
        {
            b._problems[m.Name] = m.Type == BpfMapType.StackTrace ? null : $"map '{m.Name}' is {m.Type}, not a BPF_MAP_TYPE_STACK_TRACE map";
        }

        return b;
    }

    /// <summary>Sources given directly (tests, or maps read some other way).</summary>
    public static StackMapBinding Of(IReadOnlyDictionary<string, IStackTraceSource> sources)
    {
        var b = new StackMapBinding();
        foreach ((string name, IStackTraceSource s) in sources)
        {
            b._problems[name] = null;
            b._sources[name] = s;
        }

        return b;
    }

    /// <summary>The loaded object whose maps <see cref="Find"/> reads from now on.</summary>
    public void Attach(BpfObject loaded)
    {
        lock (_sources)
        {
            _loaded = loaded;
        }
    }

    /// <summary>Why <paramref name="name"/> cannot be a stack map, or null.</summary>
    public string? Problem(string name) => _problems.TryGetValue(name, out string? p) ? p
        : $"the program set has no map '{name}'" + (_problems.Count == 0 ? "" : $" (its maps: {string.Join(", ", _problems.Keys.Order(StringComparer.Ordinal))})");

    /// <summary>The map's source, or null before the object is loaded.</summary>
    public IStackTraceSource? Find(string name)
    {
        lock (_sources)
        {
            if (_sources.TryGetValue(name, out IStackTraceSource? s))
            {
                return s;
            }

            if (_loaded is not null && _loaded.TryGetMap(name, out BpfMap map))
            {
                s = new BpfStackTraceMap(map);
                _sources[name] = s;
                return s;
            }

            return null;
        }
    }
}
