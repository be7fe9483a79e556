using Bpf;

namespace BpfAgent.Pipeline;

/// <summary>
/// One configured ring buffer in the pipeline: its map, where its samples go, and its counters by stage
/// (received by whoever reads a record: the worker for records read in place, the poll thread for copies and for
/// segments the channel refused; channel drops on the poll thread, decode errors and deliveries on the worker).
/// The counters live in a <see cref="RingTotals"/> that a reloaded set's new source shares with the old one.
/// </summary>
public sealed class RingSource(string setName, string mapName, BpfMap? map, SampleProcessor processor, RingTotals? totals = null)
{
    private readonly RingTotals _totals = totals ?? new RingTotals();
    private RingStatistics? _statistics;

    /// <summary>A source over a loaded ring buffer map, which the poller reads.</summary>
    public RingSource(string setName, BpfMap map, SampleProcessor processor, RingTotals? totals = null)
        : this(setName, map.Name, map, processor, totals)
    {
    }

    /// <summary>A source with no map, which the poller cannot read: its batches are written by the caller (the pipeline's tests without a kernel).</summary>
    public RingSource(string setName, string mapName, SampleProcessor processor, RingTotals? totals = null)
        : this(setName, mapName, null, processor, totals)
    {
    }

    public string SetName { get; } = setName;

    public string MapName { get; } = mapName;

    /// <summary>The ring buffer map the poller reads; null for a source fed by its caller.</summary>
    public BpfMap? Map { get; } = map;

    public SampleProcessor Processor { get; } = processor;

    /// <summary>
    /// The libbpf ring's counters, set each time the poller (re)builds its ring buffer; counts of earlier ring
    /// buffers (and of earlier versions of this set) are carried over so the totals never go back.
    /// </summary>
    public RingStatistics? Statistics
    {
        get => _statistics;
        set
        {
            lock (_totals.Gate)
            {
                if (_statistics is not null)
                {
                    _totals.ReceivedBefore += _statistics.SamplesReceived;
                    _totals.BytesBefore += _statistics.BytesReceived;
                    _totals.ExceptionsBefore += _statistics.ConsumerExceptions;
                }

                _statistics = value;
            }
        }
    }

    public long Received
    {
        get
        {
            lock (_totals.Gate)
            {
                return _totals.ReceivedBefore + (_statistics?.SamplesReceived ?? 0);
            }
        }
    }

    public long ReceivedBytes
    {
        get
        {
            lock (_totals.Gate)
            {
                return _totals.BytesBefore + (_statistics?.BytesReceived ?? 0);
            }
        }
    }

    public long ChannelDropped => Interlocked.Read(ref _totals.ChannelDropped);

    public long Delivered => Interlocked.Read(ref _totals.Delivered);

    public long DecodeErrors => Interlocked.Read(ref _totals.DecodeErrors);

    /// <summary>Exceptions thrown while handling a sample (caught; counted as decode-stage drops too).</summary>
    public long ConsumerExceptions
    {
        get
        {
            lock (_totals.Gate)
            {
                return _totals.ExceptionsBefore + (_statistics?.ConsumerExceptions ?? 0);
            }
        }
    }

    internal RingTotals Totals => _totals;

    private int _segmentsInFlight;
    private RingSegment _dropped;

    /// <summary>Segments of this ring handed to the worker and not yet released by it.</summary>
    internal bool HasSegmentsInFlight => Volatile.Read(ref _segmentsInFlight) > 0;

    internal void SegmentHandedOff() => Interlocked.Increment(ref _segmentsInFlight);

    /// <summary>The worker is done with a segment of this ring and gave its space back to the kernel.</summary>
    internal void SegmentReleased() => Interlocked.Decrement(ref _segmentsInFlight);

    /// <summary>A segment the channel refused is waiting to be counted; nothing more of this ring is cut meanwhile.</summary>
    internal bool HasDropPending => !_dropped.IsEmpty;

    /// <summary>
    /// A segment the channel refused. Its records are read only to count them (received, and dropped at stage
    /// channel) and then released, once no earlier segment of the ring is in flight: a ring's readers go in order, each
    /// starting where the previous one stopped. Until then nothing more of the ring is cut. Poll thread only.
    /// </summary>
    internal void Dropped(RingSegment segment)
    {
        _dropped = segment;
        CountDropped();
    }

    /// <summary>Counts and releases a refused segment once nothing earlier of this ring is in flight. Poll thread only.</summary>
    internal void CountDropped()
    {
        if (_dropped.IsEmpty || HasSegmentsInFlight)
        {
            return;
        }

        RingSegment.Reader reader = _dropped.GetEnumerator();
        _dropped = default;
        try
        {
            while (reader.MoveNext())
            {
            }
        }
        finally
        {
            reader.CountReceived();
            AddChannelDropped(reader.Count);
            reader.Release();
        }
    }

    internal void AddChannelDropped(long n) => Interlocked.Add(ref _totals.ChannelDropped, n);

    internal void AddDelivered(long n) => Interlocked.Add(ref _totals.Delivered, n);

    internal void AddDecodeError() => Interlocked.Increment(ref _totals.DecodeErrors);

    /// <summary>
    /// Folds the (final) counts of the current ring buffer into the totals once the poller no longer reads this
    /// source, so a successor sharing the totals continues from them.
    /// </summary>
    internal void Retire() => Statistics = null;

    public override string ToString() => $"{SetName}/{MapName}";
}

/// <summary>
/// The running totals of one ring of one set. The set's history (ProgramSets/SetHistory) keeps one per map for the life of the agent, so
/// when a reload replaces a set its new <see cref="RingSource"/> continues the old one's counts: the self-metrics
/// are counters and must not go back, and received = delivered + dropped must hold across reloads.
/// </summary>
public sealed class RingTotals
{
    internal readonly Lock Gate = new();
    internal long ReceivedBefore;
    internal long BytesBefore;
    internal long ExceptionsBefore;
    internal long ChannelDropped;
    internal long Delivered;
    internal long DecodeErrors;
}
