using System.Buffers.Binary;
using System.Text;
using Bpf;
using BenchmarkDotNet.Attributes;
using BpfAgent.Bench;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Metrics.Histograms;
using BpfAgent.Pipeline;
using BpfAgent.ProgramSets;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace BpfAgent.Micro;

/// <summary>
/// The per-sample work of the agent's worker on one 48-byte sample of the benchmark producer's struct
/// bench_event (layout read from build/bench/producer.bpf.o's BTF, or BENCH_PRODUCER_OBJECT): label decode of
/// a char array and of an integer, the label set, each metric update, the whole processor over a chunk; and the poll
/// thread's copy into a pooled batch. Counters are observed by the agent's own OpenTelemetry set-up
/// (SetInstruments + the Prometheus exporter), as in the daemon; histograms are aggregated by the agent.
/// </summary>
public class PerSampleBenchmarks : IDisposable
{
    private readonly byte[] _sample = new byte[48];
    private SetInstruments? _instruments;
    private BucketLayout? _exp2;
    private BucketLayout? _explicit;
    private double _value;
    private MeterProvider? _provider;
    private FieldValueDecoder? _comm;
    private FieldValueDecoder? _pid;
    private LabelSet? _labels;
    private MetricUpdater? _counter;
    private MetricUpdater? _histogram;
    private SampleProcessor? _full;
    private SampleBatchPool? _pool;
    private SampleBatch? _batch;
    private readonly SampleChunk _chunk = new();
    private byte[]? _chunkSamples;

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

        _provider = Sdk.CreateMeterProviderBuilder()
            .AddMeter(SetInstruments.MeterPrefix + "*")
            .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0)
            .Build();
        _counter = BenchPipeline.Counter(layout);
        _histogram = BenchPipeline.Histogram(layout);
        _full = BenchPipeline.Full(layout);
        _instruments = new SetInstruments("micro");
        _instruments.Activate([_counter, _histogram, .. _full.Metrics]);
        _exp2 = new BucketLayout(BenchPipeline.Exp2(0.000001, 1));
        _explicit = new BucketLayout(BucketLayout.DefaultBounds);
        _pool = new SampleBatchPool(new AgentOptions().BatchBytes);
        _batch = _pool.Rent();

        // A chunk of copies of the sample in pinned memory, as the worker hands them to the processor.
        _chunkSamples = GC.AllocateArray<byte>(SampleChunk.Capacity * _sample.Length, pinned: true);
        for (int i = 0; i < SampleChunk.Capacity; i++)
        {
            Span<byte> slot = _chunkSamples.AsSpan(i * _sample.Length, _sample.Length);
            _sample.CopyTo(slot);
            _chunk.Add(slot);
        }
    }

    [Benchmark(Description = "decode: char[16] label (comm)")]
    public string? DecodeCharArray() => _comm!.Label(_sample);

    [Benchmark(Description = "decode: u32 label (pid)")]
    public string? DecodeInt() => _pid!.Label(_sample);

    [Benchmark(Description = "LabelSet.Find (comm)")]
    public LabelSeries? Find() => _labels!.Find(_sample);

    [Benchmark(Description = "update: counter{comm}")]
    public void CounterUpdate() => _counter!.Update(_sample);

    // The histogram step alone (issue 10's target: <= 10 ns): series, bucket index, two adds.
    [Benchmark(Description = "update: histogram(latency), agent-aggregated")]
    public void HistogramUpdate() => _histogram!.Update(_sample);

    // Values step through the buckets so the branch predictor does not learn one answer.
    [Benchmark(Description = "bucket index: exp2 (21 bounds, bit arithmetic)")]
    public int Exp2Index()
    {
        _value = _value > 2 ? 1e-7 : _value * 1.37 + 1e-7;
        return _exp2!.IndexOf(_value);
    }

    [Benchmark(Description = "bucket index: explicit (15 bounds, search)")]
    public int ExplicitIndex()
    {
        _value = _value > 20000 ? 0.5 : _value * 1.37 + 0.5;
        return _explicit!.IndexOf(_value);
    }

    // Per sample: the worker hands the processor a chunk of 256, every metric runs over all of them.
    [Benchmark(Description = "SampleProcessor: full (counter + histogram), a chunk", OperationsPerInvoke = SampleChunk.Capacity)]
    public int Process()
    {
        _full!.Process(_chunk);
        return _chunk.FailedCount;
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
        _instruments?.Dispose();
        _provider?.Dispose();
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
