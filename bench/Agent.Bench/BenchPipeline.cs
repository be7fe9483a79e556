using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;

namespace BpfAgent.Bench;

/// <summary>
/// The benchmark's program-set "config", built from the agent's own types exactly as ProgramSetLoader builds a
/// configured ring: for "full", a counter of samples labelled by comm (string decoder, cached label values)
/// and a histogram of latency_ns in seconds (exp2 buckets 1 us..1 s, as the shipped syscall_latency set),
/// aggregated by the agent. The counter is observed by OpenTelemetry at scrape, as in the daemon.
/// </summary>
public static class BenchPipeline
{
    public const string SmallStruct = "bench_event";
    public const string LargeStruct = "bench_event_large";

    public static SampleProcessor Transport(EventLayout layout) => new(layout, [], null);

    public static SampleProcessor Full(EventLayout layout) => new(layout, [Counter(layout), Histogram(layout)], null);

    public static MetricUpdater Counter(EventLayout layout)
    {
        EventField comm = layout.Find("comm") ?? throw new InvalidOperationException("no field comm");
        FieldValueDecoder decoder = FieldValueDecoder.Create(comm, "auto", out string? error)
            ?? throw new InvalidOperationException(error);
        var config = new MetricConfig
        {
            Name = "bench_events_total",
            Kind = MetricKind.Counter,
            Key = "bench.metrics[0]",
            Help = "Benchmark samples by command.",
            Labels = [new LabelConfig { Name = "comm", Field = "comm", Key = "bench.metrics[0].labels[0]" }],
            MaxSeries = 1000,
        };
        return MetricUpdater.Create(config, [("comm", decoder)], null);
    }

    public static MetricUpdater Histogram(EventLayout layout)
    {
        EventField latency = layout.Find("latency_ns") ?? throw new InvalidOperationException("no field latency_ns");
        var config = new MetricConfig
        {
            Name = "bench_latency_seconds",
            Kind = MetricKind.Histogram,
            Key = "bench.metrics[1]",
            Help = "Benchmark latency field.",
            Field = "latency_ns",
            Scale = 1e-9,
            Buckets = Exp2(0.000001, 1),
        };
        return MetricUpdater.Create(config, [], latency);
    }

    /// <summary>The bucket list the config reader makes of {"exp2": {"min": min, "max": max}}.</summary>
    public static List<double> Exp2(double min, double max)
    {
        var list = new List<double>();
        for (double bound = min; list.Count < 64; bound *= 2)
        {
            list.Add(bound);
            if (bound >= max)
            {
                break;
            }
        }

        return list;
    }
}
