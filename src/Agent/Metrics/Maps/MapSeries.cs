using System.Diagnostics;

namespace BpfAgent.Metrics.Maps;

/// <summary>One series of a map metric in the current read: its labels and what the entries that map to it add up to.</summary>
public sealed class MapSeries(string?[] values, TagList tags, int slots)
{
    public IReadOnlyList<string?> Values { get; } = values;

    internal readonly TagList Tags = tags;

    /// <summary>A counter's or gauge's value: the sum over the entries (and CPUs) of this series.</summary>
    internal double Value;

    /// <summary>A histogram's count per slot (+Inf last) and its sum.</summary>
    internal readonly long[]? Counts = slots > 0 ? new long[slots] : null;

    internal double Sum;

    /// <summary>The read that last saw an entry of this series; other series are not exported.</summary>
    internal long Read;

    /// <summary>Set when the series left the table: cached keys that point here look their series up again.</summary>
    internal bool Removed;

    internal void Reset(long read)
    {
        Read = read;
        Value = 0;
        Sum = 0;
        if (Counts is not null)
        {
            Array.Clear(Counts);
        }
    }
}
