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
    /// Makes <paramref name="metrics"/> (the counters and gauges of the version now going live) what the
    /// instruments observe; instruments of metrics no longer configured are removed.
    /// </summary>
    public void Activate(IEnumerable<MetricUpdater> metrics)
    {
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (MetricUpdater m in metrics)
        {
            if (m is HistogramUpdater)
            {
                continue; // the agent's own exposition writes histograms
            }

            live.Add(m.Config.Name);
            var identity = new Identity(m.GetType(), m.Config.Help);
            if (_entries.TryGetValue(m.Config.Name, out Entry? entry) && entry.Identity == identity)
            {
                entry.Current = m;
                continue;
            }

            entry?.Meter.Dispose();
            _entries[m.Config.Name] = Create(m, identity);
        }

        foreach (string gone in _entries.Keys.Where(k => !live.Contains(k)).ToList())
        {
            _entries.Remove(gone, out Entry? entry);
            entry!.Meter.Dispose();
        }
    }

    private Entry Create(MetricUpdater m, Identity identity)
    {
        var meter = new Meter($"{MeterPrefix}{SetName}.{m.Config.Name}.{++_generation}");
        var entry = new Entry(meter, identity) { Current = m };
        string? help = m.Config.Help.Length == 0 ? null : m.Config.Help;
        string? unit = MetricUnits.OpenTelemetryUnit(m.Config.Name);
        switch (m)
        {
            case SampleCounterUpdater:
                meter.CreateObservableCounter(m.Config.Name, () => Counts(entry), unit, help);
                break;
            case FieldCounterUpdater:
                meter.CreateObservableCounter(m.Config.Name, () => Sums(entry), unit, help);
                break;
            default:
                meter.CreateObservableGauge(m.Config.Name, () => LastValues(entry), unit, help);
                break;
        }

        return entry;
    }

    private static IEnumerable<Measurement<long>> Counts(Entry entry)
    {
        foreach (LabelSeries s in entry.Current.Labels.Series())
        {
            yield return new Measurement<long>(Volatile.Read(ref s.Count), in s.TagList);
        }
    }

    private static IEnumerable<Measurement<double>> Sums(Entry entry)
    {
        foreach (LabelSeries s in entry.Current.Labels.Series())
        {
            yield return new Measurement<double>(Volatile.Read(ref s.Sum), in s.TagList);
        }
    }

    private static IEnumerable<Measurement<double>> LastValues(Entry entry)
    {
        foreach (LabelSeries s in entry.Current.Labels.Series())
        {
            if (Volatile.Read(ref s.HasValue))
            {
                yield return new Measurement<double>(Volatile.Read(ref s.LastValue), in s.TagList);
            }
        }
    }

    public void Dispose()
    {
        foreach (Entry e in _entries.Values)
        {
            e.Meter.Dispose();
        }

        _entries.Clear();
    }

    private readonly record struct Identity(Type Kind, string Help);

    private sealed class Entry(Meter meter, Identity identity)
    {
        public Meter Meter { get; } = meter;

        public Identity Identity { get; } = identity;

        public volatile MetricUpdater Current = null!;
    }
}
