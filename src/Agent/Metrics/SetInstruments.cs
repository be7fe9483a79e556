using System.Diagnostics.Metrics;
using BpfAgent.Configuration;

namespace BpfAgent.Metrics;

/// <summary>
/// The OpenTelemetry instruments of one program set's counters and gauges, for as long as the set is configured.
/// They are observable: a scrape reads the current version's series (<see cref="LabelSeries"/>), and the worker
/// never calls OpenTelemetry. On a reload a metric whose name, kind and help are unchanged keeps its instrument,
/// which from then on reads the new version; any other gets a new instrument on a meter of its own, and the old
/// meter is disposed first, so a family is never exported twice.
/// </summary>
public sealed class SetInstruments(string setName) : IDisposable
{
    public const string MeterPrefix = "bpf_agent.set.";

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private int _generation;

    public string SetName { get; } = setName;

    /// <summary>
    /// Makes <paramref name="metrics"/> (the counters and gauges of the version now going live; histograms are
    /// skipped, the agent's own exposition writes them) what the instruments observe; instruments of metrics no
    /// longer configured are removed.
    /// </summary>
    public void Activate(IEnumerable<object> metrics)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (IObservedMetric m in metrics.OfType<IObservedMetric>())
        {
            live.Add(m.Name);
            var identity = new Identity(m.Kind, m.Help);
            if (_entries.TryGetValue(m.Name, out Entry? entry) && entry.Identity == identity)
            {
                entry.Current = m;
                continue;
            }

            entry?.Meter.Dispose();
            _entries[m.Name] = Create(m, identity);
        }

        foreach (string gone in _entries.Keys.Where(k => !live.Contains(k)).ToList())
        {
            _entries.Remove(gone, out Entry? entry);
            entry!.Meter.Dispose();
        }
    }

    private Entry Create(IObservedMetric m, Identity identity)
    {
        var meter = new Meter($"{MeterPrefix}{SetName}.{m.Name}.{++_generation}");
        var entry = new Entry(meter, identity) { Current = m };
        string? help = m.Help.Length == 0 ? null : m.Help;
        string? unit = MetricUnits.OpenTelemetryUnit(m.Name);
        switch (m.Kind)
        {
            case ObservedKind.Count:
                meter.CreateObservableCounter(m.Name, () => entry.Current.ObserveCounts(), unit, help);
                break;
            case ObservedKind.Sum:
                meter.CreateObservableCounter(m.Name, () => entry.Current.ObserveValues(), unit, help);
                break;
            default:
                meter.CreateObservableGauge(m.Name, () => entry.Current.ObserveValues(), unit, help);
                break;
        }

        return entry;
    }

    public void Dispose()
    {
        foreach (Entry e in _entries.Values)
        {
            e.Meter.Dispose();
        }

        _entries.Clear();
    }

    private readonly record struct Identity(ObservedKind Kind, string Help);

    private sealed class Entry(Meter meter, Identity identity)
    {
        public Meter Meter { get; } = meter;

        public Identity Identity { get; } = identity;

        public volatile IObservedMetric Current = null!;
    }
}
