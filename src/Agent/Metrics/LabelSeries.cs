using System.Diagnostics;

namespace BpfAgent.Metrics;

/// <summary>
/// One series of one metric: its label values and what the metric has accumulated for it. Written by the one
/// worker thread with plain stores (no lock, no interlocked per sample); read at scrape from another thread,
/// where an aligned 64-bit load never tears.
/// </summary>
public sealed class LabelSeries
{
    internal readonly TagList TagList; // a field, so instruments take it by reference

    internal LabelSeries(string?[] values, TagList tags, int histogramBuckets)
    {
        Values = values;
        TagList = tags;
        Buckets = histogramBuckets > 0 ? new long[histogramBuckets] : null;
        Created = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
    }

    /// <summary>When the series was first seen (Unix seconds): OpenMetrics' <c>_created</c>.</summary>
    public double Created { get; private set; }

    /// <summary>The label values, in the order of the label set's names.</summary>
    public IReadOnlyList<string?> Values { get; }

    public TagList Tags => TagList;

    /// <summary>A sample counter's count.</summary>
    internal long Count;

    /// <summary>A field counter's sum, a histogram's sum of observed values.</summary>
    internal double Sum;

    /// <summary>A gauge's last value (valid once <see cref="HasValue"/>).</summary>
    internal double LastValue;

    internal bool HasValue;

    /// <summary>A histogram's count per bucket (not cumulative); the last one is +Inf.</summary>
    internal readonly long[]? Buckets;

    /// <summary>Takes over what a series with the same labels of the previous version of the metric held.</summary>
    internal void Continue(LabelSeries previous)
    {
        Count = previous.Count;
        Sum = previous.Sum;
        LastValue = previous.LastValue;
        HasValue = previous.HasValue;
        Created = previous.Created;
        if (Buckets is not null && previous.Buckets is not null && Buckets.Length == previous.Buckets.Length)
        {
            previous.Buckets.CopyTo(Buckets, 0);
        }
    }

    /// <summary>Label values as one string (for matching series across versions; not on the per-sample path).</summary>
    internal string ValueKey() => KeyOf(Values);

    /// <summary>One string for a list of label values, equal exactly when the values are (null kept apart from "").</summary>
    internal static string KeyOf(IReadOnlyList<string?> values) => string.Join('\u0001', values.Select(v => v ?? "\u0000"));
}
