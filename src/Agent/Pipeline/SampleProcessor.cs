using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;

namespace BpfAgent.Pipeline;

/// <summary>
/// What happens to the samples of a ring on the worker: length check, metric updates, the log line. The worker hands
/// them over a chunk at a time and each metric runs over the whole chunk in its own loop (metrics share nothing, so
/// their order does not matter; log lines keep the ring's order).
/// </summary>
public sealed class SampleProcessor(EventLayout layout, IReadOnlyList<MetricUpdater> metrics, EventLogWriter? log)
{
    private readonly MetricUpdater[] _metrics = [.. metrics];
    private long _logErrors;

    public EventLayout Layout { get; } = layout;

    public IReadOnlyList<MetricUpdater> Metrics => _metrics;

    public EventLogWriter? Log { get; } = log;

    /// <summary>Whether a sample is long enough to decode (not shorter than its struct); one that is not is a decode error.</summary>
    public bool Fits(ReadOnlySpan<byte> sample) => sample.Length >= Layout.Size;

    /// <summary>
    /// The samples of <paramref name="chunk"/> (each one that <see cref="Fits"/>), every metric over all of them, then
    /// the log lines in order. A sample that throws in a metric is marked failed in the chunk and that metric goes on
    /// with the next one; a failed sample gets no log line. Does not throw for a sample.
    /// </summary>
    public void Process(SampleChunk chunk)
    {
        MetricUpdater[] metrics = _metrics;
        for (int m = 0; m < metrics.Length; m++)
        {
            int from = 0;
            while (from < chunk.Count)
            {
                try
                {
                    metrics[m].Update(chunk, from);
                    break;
                }
                catch (Exception e)
                {
                    int bad = chunk.At;
                    chunk.Fail(bad, e);
                    from = bad + 1;
                }
            }
        }

        if (Log is EventLogWriter log)
        {
            for (int i = 0; i < chunk.Count; i++)
            {
                if (!chunk.Failed(i))
                {
                    WriteLog(log, chunk[i]);
                }
            }
        }
    }

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
