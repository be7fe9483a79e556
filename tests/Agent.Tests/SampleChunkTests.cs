using System.Threading.Channels;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Metrics.Histograms;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// The worker's chunks (no kernel, no root): every metric runs over a chunk of up to 256 samples in its own loop, so a
/// histogram's two passes must count what one pass would, past 256 buckets too, and a sample that throws in one metric
/// is that ring's decode error while the chunk's other samples are delivered.
/// </summary>
public sealed class SampleChunkTests
{
    private readonly EventLayout _layout = EventLayout.FromFields("chunk_event", 16,
    [
        EventField.At("value", 0, 4, FieldShape.Unsigned),
        EventField.At("comm", 4, 8, FieldShape.CharArray),
    ]);

    private byte[] Sample(uint value, string comm)
    {
        byte[] b = new byte[_layout.Size];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        System.Text.Encoding.ASCII.GetBytes(comm).CopyTo(b, 4);
        return b;
    }

    // Copies of the samples, in batches of the worker's pool, through SampleWorker.Process as the channel would bring them.
    private static void Run(RingSource ring, IEnumerable<byte[]> samples)
    {
        var pool = new SampleBatchPool(64 * 1024);
        Channel<SampleBatch> channel = Channel.CreateUnbounded<SampleBatch>();
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);
        SampleBatch batch = pool.Rent();
        batch.Rings = [ring];
        foreach (byte[] s in samples)
        {
            if (!batch.TryAdd(0, s))
            {
                worker.Process(batch);
                pool.Return(batch);
                batch = pool.Rent();
                batch.Rings = [ring];
                Assert.True(batch.TryAdd(0, s));
            }
        }

        worker.Process(batch);
        pool.Return(batch);
    }

    [Theory]
    [InlineData(false)] // 300 explicit bounds: a bucket index past a byte
    [InlineData(true)] // exp2 bounds, no labels: the one-series path
    public void A_histogram_over_chunks_counts_each_sample_in_its_bucket_and_sums_exactly(bool exp2)
    {
        List<double> bounds = exp2 ? [.. Enumerable.Range(0, 40).Select(i => Math.Pow(2, i))] : [.. Enumerable.Range(0, 300).Select(i => i + 0.5)];
        var config = new MetricConfig { Name = "chunk_values", Kind = MetricKind.Histogram, Key = "m", Field = "value", Buckets = bounds };
        var histogram = (HistogramUpdater)MetricUpdater.Create(config, [], _layout.Find("value"));
        var ring = new RingSource("chunk", "events", new SampleProcessor(_layout, [histogram], null));

        // 1000 samples (four chunks), values jumping between buckets, neighbours often in the same one.
        uint[] values = [.. Enumerable.Range(0, 1000).Select(i => (uint)((i * 7919 % 400) / (i % 3 + 1)))];
        Run(ring, values.Select(v => Sample(v, "x")));

        var layout = new BucketLayout(bounds);
        long[] expected = new long[layout.BucketCount];
        foreach (uint v in values)
        {
            expected[layout.IndexOf(v)]++;
        }

        LabelSeries series = Assert.Single(histogram.Labels.Series());
        Assert.Equal(expected, series.Buckets);
        Assert.Equal(values.Sum(v => (double)v), series.Sum);
        Assert.Equal(1000, ring.Delivered);
        Assert.Equal(0, ring.DecodeErrors);
    }

    [Fact]
    public void A_sample_that_throws_in_one_metric_is_a_decode_error_and_the_rest_of_its_chunk_is_delivered()
    {
        var counterConfig = new MetricConfig { Name = "chunk_samples_total", Kind = MetricKind.Counter, Key = "m0", MaxSeries = 10 };
        MetricUpdater counter = MetricUpdater.Create(counterConfig, [("comm", Decoders.DecoderKit.On(_layout.Find("comm")!, "string"))], null);
        var throwing = new ThrowingMetric(new MetricConfig { Name = "chunk_throws", Kind = MetricKind.Counter, Key = "m1" }, new LabelSet([], 1));
        var ring = new RingSource("chunk", "events", new SampleProcessor(_layout, [throwing, counter], null));

        // 600 samples over three chunks; samples 100 and 300 throw (the second in the middle of the second chunk).
        Run(ring, Enumerable.Range(0, 600).Select(i => Sample(i is 100 or 300 ? ThrowingMetric.Poison : (uint)i, "c" + (i % 2))));

        Assert.Equal(598, ring.Delivered);
        Assert.Equal(2, ring.DecodeErrors);
        Assert.Equal(598, throwing.Seen); // it went on after each sample that threw
        Assert.Equal(600, counter.Labels.Series().Sum(s => s.Count)); // the other metric had counted both
    }

    private sealed class ThrowingMetric(MetricConfig config, LabelSet labels) : MetricUpdater(config, labels, null)
    {
        public const uint Poison = 0xDEAD;

        public int Seen { get; private set; }

        public override void Update(ReadOnlySpan<byte> sample)
        {
            if (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(sample) == Poison)
            {
                throw new InvalidOperationException("a decoder bug");
            }

            Seen++;
        }
    }
}
