using System.Diagnostics;
using System.Diagnostics.Metrics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Metrics.PerfEvents;

/// <summary>
/// A <see cref="PerfCounterConfig"/> running: a thread polls the perf event array, each sample's labels are decoded
/// from its bytes (a decoder that drops, such as a regexp that matched nothing, leaves the sample out, counted in
/// <see cref="Filtered"/>), and its series counts one. Samples the kernel lost are counted in <see cref="Lost"/>.
/// The series start again every flush interval. Past maxSeries new label sets go to one overflow series.
/// </summary>
public sealed class PerfEventCounter : IObservedMetric, IPerfBufferConsumer, IDisposable
{
    private readonly PerfCounterConfig _config;
    private readonly (string Name, FieldValueDecoder Decoder)[] _labels;
    private readonly int _length;
    private readonly Dictionary<string, Series> _series = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly PerfBuffer _buffer;
    private readonly Thread _thread;
    private readonly string?[] _values;
    private volatile bool _stop;
    private long _lost;
    private long _filtered;
    private long _short;
    private long _flushedAt;

    private PerfEventCounter(PerfCounterConfig config, IReadOnlyList<(string, FieldValueDecoder)> labels, BpfMap map)
    {
        _config = config;
        _labels = [.. labels];
        _values = new string?[_labels.Length];
        _length = config.Labels.Count == 0 ? 0 : config.Labels.Max(l => l.Offset + l.Size);
        _flushedAt = Stopwatch.GetTimestamp();
        _buffer = new PerfBuffer(map, this);
        _thread = new Thread(Run) { IsBackground = true, Name = $"perf {config.Map}" };
        _thread.Start();
    }

    public string Name => _config.Name;

    public string Help => _config.Help;

    public ObservedKind Kind => ObservedKind.Count;

    /// <summary>Samples the kernel could not write (its per-CPU buffer was full).</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>Samples a decoder left out (a regexp that matched nothing).</summary>
    public long Filtered => Interlocked.Read(ref _filtered);

    /// <summary>Samples shorter than the labels: dropped, as a decode error.</summary>
    public long TooShort => Interlocked.Read(ref _short);

    /// <summary>The decoder of each label (a chain on the sample's bytes), or null with the problems added.</summary>
    public static IReadOnlyList<(string, FieldValueDecoder)>? Decoders(ProgramSetConfig set, PerfCounterConfig config, DecoderContext context, List<ConfigError> errors)
    {
        var list = new List<(string, FieldValueDecoder)>();
        int before = errors.Count;
        foreach (PerfCounterLabel l in config.Labels)
        {
            FieldValueDecoder? d = FieldValueDecoder.Create(EventField.At(l.Name, l.Offset, l.Size, FieldShape.ByteArray), l.Decoders, context, out string? problem);
            if (d is null)
            {
                errors.Add(new ConfigError(set.File, $"{l.Key}.decoders", problem!, "choose decoders that fit the label's bytes (see docs/configuration.md)"));
            }
            else
            {
                list.Add((l.Name, d));
            }
        }

        return errors.Count == before ? list : null;
    }

    public static PerfEventCounter Start(PerfCounterConfig config, IReadOnlyList<(string, FieldValueDecoder)> labels, BpfObject obj) =>
        new(config, labels, obj.GetMap(config.Map));

    public void OnSample(int cpu, ReadOnlySpan<byte> data)
    {
        if (data.Length < _length)
        {
            Interlocked.Increment(ref _short);
            return;
        }

        lock (_lock)
        {
            for (int i = 0; i < _labels.Length; i++)
            {
                _values[i] = _labels[i].Decoder.Label(data);
                if (_values[i] is null)
                {
                    Interlocked.Increment(ref _filtered);
                    return;
                }
            }

            string key = LabelSeries.KeyOf(_values);
            if (!_series.TryGetValue(key, out Series? s))
            {
                bool overflow = _series.Count >= _config.MaxSeries;
                key = overflow ? "\u0000overflow" : key;
                if (!_series.TryGetValue(key, out s))
                {
                    var tags = default(TagList);
                    for (int i = 0; i < _labels.Length; i++)
                    {
                        tags.Add(_labels[i].Name, overflow ? LabelSet.OverflowValue : _values[i]);
                    }

                    _series[key] = s = new Series(tags);
                }
            }

            s.Count++;
        }
    }

    public void OnLost(int cpu, ulong count) => Interlocked.Add(ref _lost, (long)count);

    public IEnumerable<Measurement<long>> ObserveCounts()
    {
        lock (_lock)
        {
            FlushIfDue();
            return [.. _series.Values.Select(s => new Measurement<long>(s.Count, in s.Tags))];
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        _buffer.Dispose();
    }

    private void Run()
    {
        while (!_stop)
        {
            try
            {
                _buffer.Poll(100);
            }
            catch (BpfException)
            {
                Thread.Sleep(100); // a transient poll error: try again rather than stop counting
            }

            lock (_lock)
            {
                FlushIfDue();
            }
        }
    }

    // ebpf_exporter starts its perf-event counters again every flush interval.
    private void FlushIfDue()
    {
        if (Stopwatch.GetElapsedTime(_flushedAt) >= _config.FlushInterval)
        {
            _series.Clear();
            _flushedAt = Stopwatch.GetTimestamp();
        }
    }

    private sealed class Series(TagList tags)
    {
        public readonly TagList Tags = tags;

        public long Count;
    }
}
