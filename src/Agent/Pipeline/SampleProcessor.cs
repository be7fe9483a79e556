using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;

namespace BpfAgent.Pipeline;

/// <summary>What happens to one sample of a ring on the worker: length check, metric updates, the log line.</summary>
public sealed class SampleProcessor(EventLayout layout, IReadOnlyList<MetricUpdater> metrics, EventLogWriter? log)
{
    private readonly MetricUpdater[] _metrics = [.. metrics];
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

        MetricUpdater[] metrics = _metrics;
        for (int i = 0; i < metrics.Length; i++)
        {
            metrics[i].Update(sample);
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
