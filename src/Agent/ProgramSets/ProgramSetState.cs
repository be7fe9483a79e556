namespace BpfAgent.ProgramSets;

public enum ProgramSetStatus
{
    Loading,
    Up,
    Failed,
}

/// <summary>What the health endpoint and the self-metrics say about one set.</summary>
public sealed class ProgramSetState(string name)
{
    public string Name { get; } = name;

    public ProgramSetStatus Status { get; set; } = ProgramSetStatus.Loading;

    /// <summary>Why the set failed (one line, no kernel addresses), or null.</summary>
    public string? Error { get; set; }

    /// <summary>The running set, when up.</summary>
    public LoadedProgramSet? Loaded { get; set; }

    /// <summary>Set when a ring's drop ratio passed the set's alarm threshold in the last check.</summary>
    public bool DropAlarm { get; set; }
}

/// <summary>Every configured set and its state, and each set's history; read by health and metrics, written by the reconciler.</summary>
public sealed class ProgramSetRegistry
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SetHistory> _history = new(StringComparer.Ordinal);
    private volatile ProgramSetState[] _sets = [];

    public IReadOnlyList<ProgramSetState> Sets => _sets;

    /// <summary>What of the set named <paramref name="set"/> outlives its versions.</summary>
    public SetHistory History(string set) => _history.GetOrAdd(set, name => new SetHistory(name));

    public void Replace(IEnumerable<ProgramSetState> sets) => _sets = [.. sets];

    /// <summary>Reads every running set's maps (at most once per their max age), before a scrape.</summary>
    public void ReadMaps()
    {
        foreach (ProgramSetState s in _sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (Metrics.Maps.MapSource m in set.Maps)
                {
                    m.Read(() => { });
                }
            }
        }
    }

    /// <summary>The histogram families of the running sets, for /metrics (one version of each set at a time).</summary>
    public IEnumerable<Metrics.Exposition.IHistogramFamily> Histograms()
    {
        foreach (ProgramSetState s in _sets)
        {
            if (s.Loaded is LoadedProgramSet set)
            {
                foreach (object m in set.AllMetrics())
                {
                    if (m is Metrics.Exposition.IHistogramFamily h)
                    {
                        yield return h;
                    }
                }
            }
        }
    }
}
