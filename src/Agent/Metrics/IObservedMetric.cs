using System.Diagnostics.Metrics;

namespace BpfAgent.Metrics;

public enum ObservedKind
{
    /// <summary>A counter of whole things (samples): long measurements.</summary>
    Count,

    /// <summary>A counter of a summed value: double measurements.</summary>
    Sum,

    Gauge,
}

/// <summary>A counter or gauge that OpenTelemetry observes at scrape (<see cref="SetInstruments"/>): a ring metric's series, or a map read.</summary>
public interface IObservedMetric
{
    string Name { get; }

    string Help { get; }

    ObservedKind Kind { get; }

    /// <summary>The series' values now (<see cref="ObservedKind.Count"/>).</summary>
    IEnumerable<Measurement<long>> ObserveCounts() => [];

    /// <summary>The series' values now (<see cref="ObservedKind.Sum"/> and <see cref="ObservedKind.Gauge"/>).</summary>
    IEnumerable<Measurement<double>> ObserveValues() => [];
}
