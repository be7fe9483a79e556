using System.Diagnostics;
using Bpf;

namespace BpfAgent.Metrics.Maps;

/// <summary>
/// One configured map and the metrics read from it. A scrape reads the map once (batched lookups where the kernel
/// has them, key iteration otherwise: <see cref="BpfMapReader"/>) for all its metrics, at most every
/// <see cref="MaxAge"/>, within a time budget: a read cut short by it is counted, the series it reached are
/// exported and the rest are missing from that scrape. Reads happen on scrape threads, never on the poll thread.
/// </summary>
public sealed class MapSource(string setName, BpfMap map)
{
    private readonly Lock _gate = new();
    private readonly List<MapMetric> _metrics = [];
    private BpfMapReader? _reader;
    private long _reads;
    private long _lastReadTicks = long.MinValue;
    private long _entries;
    private long _readNanoseconds;
    private long _errors;
    private long _incomplete;

    public string SetName { get; } = setName;

    public string MapName { get; } = map.Name;

    public int MaxEntries { get; } = map.MaxEntries;

    public BpfMap Map { get; } = map;

    public IReadOnlyList<MapMetric> Metrics => _metrics;

    /// <summary>How long one read serves the scrapes that follow it (OpenTelemetry's and the histogram families' parts of one scrape).</summary>
    public TimeSpan MaxAge { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest one read may take.</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Entries seen by the last read.</summary>
    public long Entries => Interlocked.Read(ref _entries);

    /// <summary>How long the last read took.</summary>
    public double LastReadSeconds => Interlocked.Read(ref _readNanoseconds) / 1e9;

    public long ReadErrors => Interlocked.Read(ref _errors);

    /// <summary>Reads stopped by the time budget before the end of the map.</summary>
    public long IncompleteReads => Interlocked.Read(ref _incomplete);

    internal void Add(MapMetric metric) => _metrics.Add(metric);

    /// <summary>Reads the map if the last read is older than <see cref="MaxAge"/>, then runs <paramref name="observe"/> on the result.</summary>
    public void Read(Action observe)
    {
        lock (_gate)
        {
            if (Stopwatch.GetElapsedTime(_lastReadTicks) > MaxAge || _lastReadTicks == long.MinValue)
            {
                ReadNow();
            }

            observe();
        }
    }

    private void ReadNow()
    {
        long start = Stopwatch.GetTimestamp();
        _lastReadTicks = start;
        long read = ++_reads;
        foreach (MapMetric m in _metrics)
        {
            m.Begin(read);
        }

        long entries = 0;
        try
        {
            _reader ??= new BpfMapReader(Map);
            _reader.Reset();
            int n;
            while ((n = _reader.ReadNext()) > 0)
            {
                for (int i = 0; i < n; i++)
                {
                    ReadOnlySpan<byte> key = _reader.GetKey(i);
                    foreach (MapMetric m in _metrics)
                    {
                        m.Add(key, _reader, i);
                    }
                }

                entries += n;
                if (Stopwatch.GetElapsedTime(start) > Budget)
                {
                    Interlocked.Increment(ref _incomplete);
                    break;
                }
            }
        }
        catch (Exception e) when (e is BpfException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _errors); // a map of a set being unloaded, or a kernel refusal: this scrape misses it
        }

        foreach (MapMetric m in _metrics)
        {
            m.End();
        }

        Interlocked.Exchange(ref _entries, entries);
        Interlocked.Exchange(ref _readNanoseconds, (long)Stopwatch.GetElapsedTime(start).TotalNanoseconds);
    }

    public override string ToString() => $"{SetName}/{MapName}";
}
