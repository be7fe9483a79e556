using Bpf;

namespace BpfAgent.Pipeline;

/// <summary>
/// One configured ring buffer in the pipeline: its map, where its samples go, and its counters by stage
/// (received and channel drops are counted on the poll thread, decode errors and deliveries on the worker).
/// </summary>
public sealed class RingSource(string setName, BpfMap map, SampleProcessor processor)
{
    private long _channelDropped;
    private long _delivered;
    private long _decodeErrors;

    public string SetName { get; } = setName;

    public string MapName { get; } = map.Name;

    public BpfMap Map { get; } = map;

    public SampleProcessor Processor { get; } = processor;

    private RingStatistics? _statistics;
    private long _receivedBefore;
    private long _bytesBefore;
    private long _exceptionsBefore;

    /// <summary>
    /// The libbpf ring's counters, set each time the poller (re)builds its ring buffer; counts of earlier ring
    /// buffers are carried over so the totals never go back.
    /// </summary>
    public RingStatistics? Statistics
    {
        get => _statistics;
        set
        {
            if (_statistics is not null)
            {
                _receivedBefore += _statistics.SamplesReceived;
                _bytesBefore += _statistics.BytesReceived;
                _exceptionsBefore += _statistics.ConsumerExceptions;
            }

            _statistics = value;
        }
    }

    public long Received => _receivedBefore + (_statistics?.SamplesReceived ?? 0);

    public long ReceivedBytes => _bytesBefore + (_statistics?.BytesReceived ?? 0);

    public long ChannelDropped => Interlocked.Read(ref _channelDropped);

    public long Delivered => Interlocked.Read(ref _delivered);

    public long DecodeErrors => Interlocked.Read(ref _decodeErrors);

    /// <summary>Exceptions thrown while handling a sample (caught; counted as decode-stage drops too).</summary>
    public long ConsumerExceptions => _exceptionsBefore + (_statistics?.ConsumerExceptions ?? 0);

    internal void AddChannelDropped(long n) => Interlocked.Add(ref _channelDropped, n);

    internal void AddDelivered(long n) => Interlocked.Add(ref _delivered, n);

    internal void AddDecodeError() => Interlocked.Increment(ref _decodeErrors);

    public override string ToString() => $"{SetName}/{MapName}";
}
