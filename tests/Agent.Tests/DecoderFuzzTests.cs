using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Logs;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Events;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// Issue 5's decoder fuzz: a million random samples (random lengths up to twice the struct, random bytes, fixed
/// seed) through the real pipeline pieces with every decoder kind, a counter, a histogram, a gauge and a log:
/// nothing throws, every sample is delivered or counted as a decode error exactly once, and the series stay bounded.
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    private const int Samples = 1_000_000;
    private const int MaxSeries = 50;
    private const int Seed = 20240605;

    [KernelFact]
    public void A_million_random_samples_are_each_delivered_or_counted_and_nothing_throws()
    {
        using OpenBpfObject open = DecodeEvent.Open(out EventLayout layout);
        using BpfObject obj = open.Load();

        MetricUpdater Metric(string name, MetricKind kind, string? field, params (string Label, string Field, string Decoder)[] labels)
        {
            var config = new MetricConfig
            {
                Name = name,
                Kind = kind,
                Key = name,
                Field = field,
                Scale = kind == MetricKind.Histogram ? 1e-9 : 1,
                Buckets = kind == MetricKind.Histogram ? [1e-6, 1e-3, 1, 1e3] : null,
                MaxSeries = MaxSeries,
            };
            return MetricUpdater.Create(config, [.. labels.Select(l => (l.Label, DecodeEvent.Decoder(layout, l.Field, l.Decoder, MapValues)))],
                field is null ? null : layout.Find(field));
        }

        MetricUpdater[] metrics =
        [
            Metric("fuzz_events_total", MetricKind.Counter, null,
                ("comm", "comm", "string"), ("u16", "u16v", "uint"), ("s32", "s32v", "int"), ("err", "err", "errno")),
            Metric("fuzz_latency_seconds", MetricKind.Histogram, "u64v",
                ("syscall", "syscall_nr", "syscall"), ("ksym", "kaddr", "ksym"), ("v4", "addr4", "ipv4"), ("v6", "addr6", "ipv6")),
            Metric("fuzz_level", MetricKind.Gauge, "s32v",
                ("map", "u8v", "map"), ("color", "color", "enum"), ("x", "inner.x", "auto"), ("delta", "delta", "auto")),
            Metric("fuzz_sum_total", MetricKind.Counter, "s64v"),
        ];

        var sink = new CountingSink();
        Serilog.ILogger serilog = new Serilog.LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        MessageTemplate template = EventLogWriter.Parse("{comm} {u8v} {u16v} {s32v} {u64v} {s64v} {addr4} {addr6} {color} {inner.x} {inner.y} {flags} {level} {delta} {err} {syscall_nr} {kaddr}");
        var logFields = new List<(string, FieldValueDecoder)>();
        foreach (string p in EventLogWriter.Placeholders(template))
        {
            string kind = p switch
            {
                "addr4" => "ipv4",
                "addr6" => "ipv6",
                "err" => "errno",
                "syscall_nr" => "syscall",
                "kaddr" => "ksym",
                _ => "auto",
            };
            logFields.Add((p, DecodeEvent.Decoder(layout, p, kind)));
        }

        Assert.Equal(17, logFields.Count);
        var log = new EventLogWriter(serilog, LogEventLevel.Information, template, logFields, ratePerSecond: 100, "fuzz", "decode_events");

        var ring = new RingSource("fuzz", obj.GetMap("decode_events"), new SampleProcessor(layout, metrics, log));
        Channel<SampleBatch> channel = Channel.CreateBounded<SampleBatch>(
            new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });
        var pool = new SampleBatchPool(64 * 1024);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring] };
        var workerLog = new ErrorCounter();
        var worker = new SampleWorker(channel.Reader, pool, workerLog);

        var random = new Random(Seed);
        byte[] buffer = new byte[2 * layout.Size];
        long complete = 0;
        double positiveS64 = 0; // what fuzz_sum_total must hold: a counter skips negative values
        EventField s64 = layout.Find("s64v")!;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < Samples; i++)
        {
            int length = random.Next(0, (2 * layout.Size) + 1);
            Span<byte> sample = buffer.AsSpan(0, length);
            random.NextBytes(sample);
            if (length >= layout.Size)
            {
                complete++;
                double v = s64.ReadDouble(sample);
                positiveS64 += v >= 0 ? v : 0;
            }

            writer.Add(0, sample);
            while (channel.Reader.TryRead(out SampleBatch? batch))
            {
                worker.Process(batch);
                pool.Return(batch);
            }
        }

        writer.Flush();
        while (channel.Reader.TryRead(out SampleBatch? batch))
        {
            worker.Process(batch);
            pool.Return(batch);
        }

        log.Flush();
        sw.Stop();
        output.WriteLine($"{Samples:N0} samples in {sw.Elapsed.TotalSeconds:F2} s ({sw.Elapsed.TotalNanoseconds / Samples:F0} ns/sample): " +
            $"{ring.Delivered:N0} delivered, {ring.DecodeErrors:N0} decode errors, {pool.Allocated} batches allocated, " +
            $"{sink.Events} log events, {log.Suppressed:N0} suppressed, overflow {string.Join("/", metrics.Select(m => m.Labels.OverflowSamples))}");

        // Nothing escaped and nothing was turned into an error by an exception the worker caught.
        Assert.Equal(0, workerLog.Errors);

        // Every sample counted exactly once: delivered when complete, a decode error when short.
        Assert.Equal(Samples, ring.Delivered + ring.DecodeErrors);
        Assert.Equal(complete, ring.Delivered);
        Assert.Equal(Samples - complete, ring.DecodeErrors);
        Assert.Equal(0, ring.ChannelDropped);
        Assert.InRange(complete, Samples * 4 / 10, Samples * 6 / 10);

        // Each delivered sample counted once, read from the series as a scrape reads them: the sample counter's
        // counts, the histogram's buckets, the field counter's sum; the gauge keeps a last value per series.
        Assert.Equal(complete, Series(metrics[0]).Sum(x => x.Count));
        Assert.Equal(complete, Series(metrics[1]).Sum(x => x.Buckets!.Sum()));
        Assert.InRange(Series(metrics[2]).Count(x => x.HasValue), 1, complete);
        Assert.Equal(positiveS64, Series(metrics[3]).Sum(x => x.Sum), 6);

        // Random labels saturate every series limit: at most MaxSeries real label sets plus one overflow series, and
        // the samples outside the real series are exactly the overflow count.
        foreach (MetricUpdater m in metrics.Take(3))
        {
            Assert.Equal(MaxSeries, m.Labels.SeriesCount);
            Assert.Equal(MaxSeries + 1, Series(m).Count());
        }

        Assert.Equal(complete - Series(metrics[0]).Where(x => x.Values[0] != LabelSet.OverflowValue).Sum(x => x.Count), metrics[0].Labels.OverflowSamples);
        Assert.Equal(complete - Series(metrics[1]).Where(x => x.Values[0] != LabelSet.OverflowValue).Sum(x => x.Buckets!.Sum()), metrics[1].Labels.OverflowSamples);

        // The log: every delivered sample was written or suppressed, never both, never neither.
        Assert.Equal(complete, sink.Events - sink.Warnings + log.Suppressed);
        Assert.True(sink.Events - sink.Warnings <= 100 * (sw.Elapsed.TotalSeconds + 2), $"{sink.Events} events in {sw.Elapsed}");

        Assert.InRange(pool.Allocated, 1, 18);
    }

    private static readonly Dictionary<long, string> s_mapValues = new() { [0] = "zero", [1] = "one", [255] = "max" };

    private static IReadOnlyDictionary<long, string> MapValues => s_mapValues;

    private static IEnumerable<LabelSeries> Series(MetricUpdater m) => m.Labels.Series();

    private sealed class CountingSink : ILogEventSink
    {
        private long _events;
        private long _warnings;

        public long Events => Interlocked.Read(ref _events);

        public long Warnings => Interlocked.Read(ref _warnings);

        public void Emit(LogEvent logEvent)
        {
            _ = logEvent.RenderMessage(); // render like a real sink would: every property value must format
            Interlocked.Increment(ref _events);
            if (logEvent.Level == LogEventLevel.Warning)
            {
                Interlocked.Increment(ref _warnings);
            }
        }
    }

    /// <summary>The worker's logger: counts the exceptions it caught and logged.</summary>
    private sealed class ErrorCounter : Microsoft.Extensions.Logging.ILogger
    {
        public long Errors { get; private set; }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (logLevel >= LogLevel.Error)
            {
                Errors++;
            }
        }
    }
}
