using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using System.Text;
using Bpf;
using BenchmarkDotNet.Attributes;
using BpfAgent.Bench;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using BpfAgent.ProgramSets;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BpfAgent.Micro;

/// <summary>
/// The per-sample work of the agent's worker on one 48-byte sample of the benchmark producer's struct
/// bench_event (layout read from build/bench/producer.bpf.o's BTF, or BENCH_PRODUCER_OBJECT): label decode of
/// a char array and of an integer, the label set, each metric update, the whole processor; and the poll
/// thread's copy into a pooled batch. Metric instruments are listened to by the agent's own OpenTelemetry
/// set-up (AddMeter of the set meters + the Prometheus exporter), as in the daemon.
/// </summary>
public class PerSampleBenchmarks : IDisposable
{
    private readonly byte[] _sample = new byte[48];
    private Meter? _meter;
    private MeterProvider? _provider;
    private FieldValueDecoder? _comm;
    private FieldValueDecoder? _pid;
    private LabelSet? _labels;
    private MetricUpdater? _counter;
    private MetricUpdater? _histogram;
    private SampleProcessor? _full;
    private SampleBatchPool? _pool;
    private SampleBatch? _batch;
    private long _updates;
    private long _processed;

    [GlobalSetup]
    public void Setup()
    {
        string path = Environment.GetEnvironmentVariable("BENCH_PRODUCER_OBJECT") ?? FindObject();
        using OpenBpfObject open = OpenBpfObject.OpenFile(path);
        EventLayout layout = EventLayout.FromBtf(open.Btf!, BenchPipeline.SmallStruct);

        Span<byte> s = _sample;
        BinaryPrimitives.WriteUInt64LittleEndian(s[layout.Find("latency_ns")!.Offset..], 123_456);
        BinaryPrimitives.WriteUInt32LittleEndian(s[layout.Find("pid")!.Offset..], 4242);
        Encoding.ASCII.GetBytes("bench-trigger", s[layout.Find("comm")!.Offset..]);

        _comm = FieldValueDecoder.Create(layout.Find("comm")!, "auto", out _)!;
        _pid = FieldValueDecoder.Create(layout.Find("pid")!, "auto", out _)!;
        _labels = new LabelSet([("comm", _comm)], 1000);

        _meter = new Meter(ProgramSetLoader.MeterPrefix + "micro");
        _provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(ProgramSetLoader.MeterPrefix + "*")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
            .Build();
        _counter = BenchPipeline.Counter(layout, _meter);
        _histogram = BenchPipeline.Histogram(layout, _meter);
        _full = BenchPipeline.Full(layout, _meter);
        _pool = new SampleBatchPool(new AgentOptions().BatchBytes);
        _batch = _pool.Rent();
    }

    [Benchmark(Description = "decode: char[16] label (comm)")]
    public string? DecodeCharArray() => _comm!.Label(_sample);

    [Benchmark(Description = "decode: u32 label (pid)")]
    public string? DecodeInt() => _pid!.Label(_sample);

    [Benchmark(Description = "LabelSet.Find (comm)")]
    public LabelSeries? Find() => _labels!.Find(_sample);

    // The worker flushes counters once per batch (up to ~1,300 samples of 48 bytes); here once per 1,000 updates.
    [Benchmark(Description = "update: counter{comm}, flushed per 1,000")]
    public void CounterUpdate()
    {
        _counter!.Update(_sample);
        if (++_updates % 1000 == 0)
        {
            _counter.Flush();
        }
    }

    [Benchmark(Description = "update: histogram(latency)")]
    public void HistogramUpdate() => _histogram!.Update(_sample);

    [Benchmark(Description = "SampleProcessor: full (counter + histogram), batch end per 1,000")]
    public bool Process()
    {
        bool ok = _full!.Process(_sample);
        if (++_processed % 1000 == 0)
        {
            _full.EndBatch();
        }

        return ok;
    }

    [Benchmark(Description = "SampleBatch.TryAdd (poll-thread copy)")]
    public bool Copy()
    {
        if (!_batch!.TryAdd(0, _sample))
        {
            _pool!.Return(_batch);
            _batch = _pool.Rent();
            return _batch.TryAdd(0, _sample);
        }

        return true;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _provider?.Dispose();
        _meter?.Dispose();
        GC.SuppressFinalize(this);
    }

    private static string FindObject()
    {
        for (string? d = Directory.GetCurrentDirectory(); d is not null; d = Path.GetDirectoryName(d))
        {
            string candidate = Path.Combine(d, "build/bench/producer.bpf.o");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("build/bench/producer.bpf.o not found: run `make bench-micro` or set BENCH_PRODUCER_OBJECT");
    }
}
