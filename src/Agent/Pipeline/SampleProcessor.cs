using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;

namespace BpfAgent.Pipeline;

/// <summary>What happens to one sample of a ring on the worker: length check, metric updates, the log line.</summary>
public sealed class SampleProcessor(EventLayout layout, IReadOnlyList<MetricUpdater> metrics, EventLogWriter? log)
{
    private readonly MetricUpdater[] _metrics = [.. metrics];
    // The two commonest kinds through their sealed types (direct calls the JIT inlines), the rest through the base.
    // Each metric is updated once per sample; the order between metrics does not matter (they share nothing).
    private readonly SampleCounterUpdater[] _counters = [.. metrics.OfType<SampleCounterUpdater>()];
    private readonly HistogramUpdater[] _histograms = [.. metrics.OfType<HistogramUpdater>()];
    private readonly MetricUpdater[] _others = [.. metrics.Where(m => m is not SampleCounterUpdater and not HistogramUpdater)];
    private long _logErrors;

    public EventLayout Layout { get; } = layout;

    public IReadOnlyList<MetricUpdater> Metrics => _metrics;

    public EventLogWriter? Log { get; } = log;

    /// <summary>False when the sample cannot be decoded (shorter than its struct).</summary>
    public bool Process(ReadOnlySpan<byte> sample)
    {
        if (sample.Length < Layout.Size)
        {
            return false;
        }

        SampleCounterUpdater[] counters = _counters;
        for (int i = 0; i < counters.Length; i++)
        {
            counters[i].Update(sample);
        }

        HistogramUpdater[] histograms = _histograms;
        for (int i = 0; i < histograms.Length; i++)
        {
            histograms[i].Update(sample);
        }

        MetricUpdater[] others = _others;
        for (int i = 0; i < others.Length; i++)
        {
            others[i].Update(sample);
        }

        if (Log is not null)
        {
            WriteLog(Log, sample);
        }

        return true;
    }

    // Apart from Process, which stays small enough to be inlined into the worker's loop.
    private void WriteLog(EventLogWriter log, ReadOnlySpan<byte> sample)
    {
        try
        {
            log.Write(sample);
        }
        catch (Exception)
        {
            // The metrics already counted this sample: a failing log sink must not make it a decode error.
            Interlocked.Increment(ref _logErrors);
        }
    }

    /// <summary>Log writes that threw (the sample still counts as delivered).</summary>
    public long LogErrors => Interlocked.Read(ref _logErrors);
}
