using System.Collections.Concurrent;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;

namespace BpfAgent.ProgramSets;

/// <summary>
/// What of one program set outlives its loaded versions (a reload, or removing the set and adding it again): one per
/// set name for the life of the agent, in <see cref="ProgramSetRegistry.History"/>. Self-metrics are counters and must
/// not go back, and received = delivered + dropped must hold across reloads, so every count a new version continues
/// lives here, not in the version.
/// </summary>
public sealed class SetHistory(string name)
{
    private readonly ConcurrentDictionary<string, RingTotals> _rings = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    /// <summary>The running version's identity (<see cref="SetReconciler"/>): its config and its object's bytes; null when none runs.</summary>
    public string? Fingerprint { get; internal set; }

    /// <summary>Kernel drops counted by versions that no longer run (one that was removed, before it was added again).</summary>
    public long KernelDroppedBefore { get; internal set; }

    /// <summary>The set's meter and observable instruments, kept across versions so /metrics shows each series once.</summary>
    public SetInstruments? Instruments { get; internal set; }

    /// <summary>Produced and dropped at the drop alarm's last look (<see cref="DropAlarmMonitor"/>); null before its first.</summary>
    public (long Produced, long Dropped)? AlarmLast { get; internal set; }

    /// <summary>When the drop alarm last warned about the set (Environment.TickCount64).</summary>
    public long AlarmLastWarning { get; internal set; } = long.MinValue / 2;

    /// <summary>The running totals of the set's ring on <paramref name="map"/>, shared by every version that reads it.</summary>
    public RingTotals Ring(string map) => _rings.GetOrAdd(map, _ => new RingTotals());
}
