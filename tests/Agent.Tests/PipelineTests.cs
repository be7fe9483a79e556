using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Pipeline;
using Microsoft.Extensions.Logging.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// Batches, the batch writer, the channel and the worker, without a kernel (no root): rings fed by the test
/// (<see cref="RingSource"/> without a map) and a layout built from a field list, 96 bytes with comm at 16 and a u16
/// at 2: what flows, what is dropped where, and what the pool reuses. The ring-segment path is tested on real rings
/// (ReliabilityAccountingTests, Bpf.Tests' RingSegmentTests).
/// </summary>
public sealed class PipelineTests
{
    private const int BatchBytes = 4096;

    private readonly EventLayout _layout = EventLayout.FromFields("pipeline_event", 96,
    [
        EventField.At("u16v", 2, 2, FieldShape.Unsigned),
        EventField.At("comm", 16, 16, FieldShape.CharArray),
    ]);

    private readonly List<RingSource> _rings = [];

    /// <summary>Samples per batch: 4096 / 96 = 42.</summary>
    private int PerBatch => BatchBytes / _layout.Size;

    private RingSource Ring(string map, string metricName)
    {
        var config = new MetricConfig { Name = metricName, Kind = MetricKind.Counter, Key = "ringBuffers[0].metrics[0]" };
        config = config with { MaxSeries = 10 };
        MetricUpdater counter = MetricUpdater.Create(config, [("comm", Decoders.DecoderKit.On(_layout.Find("comm")!, "string"))], null);
        var ring = new RingSource("pipeline", map, new SampleProcessor(_layout, [counter], null));
        _rings.Add(ring);
        return ring;
    }

    /// <summary>What every ring's sample counter holds, summed over its series (as a scrape reads them).</summary>
    private long Counted => _rings.Sum(r => r.Processor.Metrics.Sum(m => m.Labels.Series().Sum(x => Volatile.Read(ref x.Count))));

    private byte[] Sample(int n)
    {
        byte[] b = new byte[_layout.Size];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(2), (ushort)n);
        System.Text.Encoding.ASCII.GetBytes("c" + (n % 3)).CopyTo(b, 16);
        return b;
    }

    private static Channel<SampleBatch> BoundedChannel(int capacity) => Channel.CreateBounded<SampleBatch>(
        new BoundedChannelOptions(capacity) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait });

    private static int Drain(ChannelReader<SampleBatch> reader, SampleWorker worker, SampleBatchPool pool)
    {
        int batches = 0;
        while (reader.TryRead(out SampleBatch? b))
        {
            worker.Process(b);
            pool.Return(b);
            batches++;
        }

        return batches;
    }

    [Fact]
    public async Task Batches_flow_from_the_writer_through_the_channel_to_the_worker()
    {
        RingSource ring0 = Ring("decode_events", "flow0_total");
        RingSource ring1 = Ring("decode_events2", "flow1_total");
        Channel<SampleBatch> channel = BoundedChannel(64);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0, ring1] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);
        Task run = Task.Run(worker.RunAsync);

        for (int i = 0; i < 300; i++)
        {
            writer.Add(i % 3 == 0 ? 1 : 0, Sample(i)); // interleaved rings within batches
        }

        writer.Flush();
        channel.Writer.Complete();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(200, ring0.Delivered);
        Assert.Equal(100, ring1.Delivered);
        Assert.Equal(0, ring0.ChannelDropped + ring1.ChannelDropped + ring0.DecodeErrors + ring1.DecodeErrors);
        Assert.Equal(300, Counted); // each sample counted once by its ring's counter
        Assert.Equal((300 + PerBatch - 1) / PerBatch, worker.Batches);
        Assert.Equal("pipeline/decode_events", ring0.ToString());
    }

    [Fact]
    public async Task A_full_channel_makes_the_writer_wait_for_the_worker_and_nothing_is_dropped()
    {
        RingSource ring0 = Ring("decode_events", "wait0_total");
        Channel<SampleBatch> channel = BoundedChannel(1);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool, fullWaitMs: 10_000) { Rings = [ring0] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        // The worker starts late: the writer finds the one-batch channel full and must wait, not drop.
        Task run = Task.Run(async () =>
        {
            await Task.Delay(300);
            await worker.RunAsync();
        });
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 5 * PerBatch; i++)
        {
            writer.Add(0, Sample(i));
        }

        writer.Flush();
        watch.Stop();
        channel.Writer.Complete();
        await run.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(5 * PerBatch, ring0.Delivered);
        Assert.Equal(0, ring0.ChannelDropped);
        Assert.True(writer.FullWaits >= 1, $"the writer never found the channel full ({writer.FullWaits})");
        Assert.True(watch.ElapsedMilliseconds >= 200, $"the writer did not wait for the late worker ({watch.ElapsedMilliseconds} ms)");
    }

    [Fact]
    public void Past_its_wait_a_writer_drops_the_batch_and_counts_it()
    {
        RingSource ring0 = Ring("decode_events", "waitdrop0_total");
        Channel<SampleBatch> channel = BoundedChannel(1);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool, fullWaitMs: 50) { Rings = [ring0] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        // No worker runs: batch 1 fills the channel, batch 2 waits 50 ms and is dropped.
        for (int i = 0; i < 2 * PerBatch; i++)
        {
            writer.Add(0, Sample(i));
        }

        var watch = System.Diagnostics.Stopwatch.StartNew();
        writer.Flush();
        Assert.True(watch.ElapsedMilliseconds >= 40, $"dropped after {watch.ElapsedMilliseconds} ms, before its wait");
        Assert.Equal(PerBatch, ring0.ChannelDropped);
        Assert.Equal(1, Drain(channel.Reader, worker, pool));
        Assert.Equal(PerBatch, ring0.Delivered);
    }

    [Fact]
    public async Task Past_its_wait_a_writer_waits_on_while_KeepWaiting_says_so_and_drops_once_it_does_not()
    {
        RingSource ring0 = Ring("decode_events", "keepwait0_total");
        Channel<SampleBatch> channel = BoundedChannel(1);
        var pool = new SampleBatchPool(BatchBytes);
        int asked = 0;
        bool roomInRings = true;
        var writer = new BatchWriter(channel.Writer, pool, fullWaitMs: 20)
        {
            Rings = [ring0],
            KeepWaiting = () =>
            {
                Interlocked.Increment(ref asked);
                return Volatile.Read(ref roomInRings);
            },
        };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        // The worker starts 300 ms late, far past the 20 ms wait: the writer waits on because the rings have room.
        Task run = Task.Run(async () =>
        {
            await Task.Delay(300);
            await worker.RunAsync();
        });
        for (int i = 0; i < 3 * PerBatch; i++)
        {
            writer.Add(0, Sample(i));
        }

        writer.Flush();
        Assert.True(asked > 0, "the writer never asked whether to wait on");
        Assert.Equal(0, ring0.ChannelDropped);

        // Once the rings have no room, a batch the full channel refuses is dropped after its wait.
        channel.Writer.Complete();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3 * PerBatch, ring0.Delivered);

        Channel<SampleBatch> full = BoundedChannel(1);
        Volatile.Write(ref roomInRings, false);
        var stuck = new BatchWriter(full.Writer, pool, fullWaitMs: 20) { Rings = [ring0], KeepWaiting = writer.KeepWaiting };
        for (int i = 0; i < 2 * PerBatch; i++)
        {
            stuck.Add(0, Sample(i));
        }

        stuck.Flush();
        Assert.Equal(PerBatch, ring0.ChannelDropped);
    }

    [Fact]
    public void A_full_channel_drops_whole_batches_counted_per_ring()
    {
        RingSource ring0 = Ring("decode_events", "full0_total");
        RingSource ring1 = Ring("decode_events2", "full1_total");
        Channel<SampleBatch> channel = BoundedChannel(1);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0, ring1] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);
        Assert.Equal(42, PerBatch);

        // Batch 1: 42 of ring 0 (fits the channel). Batch 2: 30 of ring 1 + 12 of ring 0 (channel full: dropped
        // when batch 3 starts). Batch 3: 5 of ring 1 (dropped at the explicit flush).
        for (int i = 0; i < 42; i++)
        {
            writer.Add(0, Sample(i));
        }

        for (int i = 0; i < 30; i++)
        {
            writer.Add(1, Sample(i));
        }

        for (int i = 0; i < 12; i++)
        {
            writer.Add(0, Sample(i));
        }

        Assert.Equal(0, ring0.ChannelDropped + ring1.ChannelDropped); // batch 2 is still being filled
        for (int i = 0; i < 5; i++)
        {
            writer.Add(1, Sample(i));
        }

        Assert.Equal(12, ring0.ChannelDropped);
        Assert.Equal(30, ring1.ChannelDropped);
        writer.Flush();
        Assert.Equal(12, ring0.ChannelDropped);
        Assert.Equal(35, ring1.ChannelDropped);

        Assert.Equal(1, Drain(channel.Reader, worker, pool));
        Assert.Equal(42, ring0.Delivered);
        Assert.Equal(0, ring1.Delivered);

        // Every sample handed to the writer is delivered or counted as a channel drop, per ring.
        Assert.Equal(42 + 12, ring0.Delivered + ring0.ChannelDropped);
        Assert.Equal(30 + 5, ring1.Delivered + ring1.ChannelDropped);

        // Dropped batches went back to the pool: batch 3 reused batch 2.
        Assert.Equal(2, pool.Allocated);
    }

    [Fact]
    public void A_sample_shorter_than_its_struct_is_a_decode_error_of_its_ring()
    {
        RingSource ring0 = Ring("decode_events", "short0_total");
        RingSource ring1 = Ring("decode_events2", "short1_total");
        Channel<SampleBatch> channel = BoundedChannel(8);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0, ring1] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        byte[] full = Sample(1);
        writer.Add(0, full);
        writer.Add(0, full.AsSpan(0, _layout.Size - 1));
        writer.Add(1, ReadOnlySpan<byte>.Empty);
        writer.Add(1, full.AsSpan(0, 8));
        writer.Add(1, [.. full, .. new byte[40]]); // longer than the struct is fine (alignment padding, newer producers)
        writer.Add(0, full);
        writer.Flush();
        Drain(channel.Reader, worker, pool);

        Assert.Equal(2, ring0.Delivered);
        Assert.Equal(1, ring0.DecodeErrors);
        Assert.Equal(1, ring1.Delivered);
        Assert.Equal(2, ring1.DecodeErrors);
        Assert.Equal(3, Counted); // errors update no metric
    }

    [Fact]
    public void The_pool_reuses_batches_and_the_steady_state_allocates_nothing()
    {
        RingSource ring0 = Ring("decode_events", "steady0_total");
        RingSource ring1 = Ring("decode_events2", "steady1_total");
        Channel<SampleBatch> channel = BoundedChannel(4);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0, ring1] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);
        byte[][] samples = [.. Enumerable.Range(0, 100).Select(Sample)];

        void Round()
        {
            for (int i = 0; i < samples.Length; i++)
            {
                writer.Add(i & 1, samples[i]);
            }

            writer.Flush();
            Drain(channel.Reader, worker, pool);
        }

        for (int r = 0; r < 10; r++)
        {
            Round();
        }

        long allocatedBatches = pool.Allocated;
        Assert.InRange(allocatedBatches, 1, 4);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int r = 0; r < 1000; r++)
        {
            Round();
        }

        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(allocatedBatches, pool.Allocated);
        Assert.Equal(0, bytes);
        Assert.Equal(1010 * 50, ring0.Delivered);
        Assert.Equal(1010 * 50, ring1.Delivered);
        Assert.Equal(0, ring0.ChannelDropped + ring1.ChannelDropped);
    }

    [Fact]
    public void An_oversize_sample_gets_a_one_off_batch_that_is_not_pooled()
    {
        RingSource ring0 = Ring("decode_events", "big0_total");
        Channel<SampleBatch> channel = BoundedChannel(8);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        writer.Add(0, Sample(1));
        writer.Add(0, [.. Sample(2), .. new byte[BatchBytes]]);
        writer.Add(0, Sample(3));
        writer.Flush();
        Assert.Equal(3, Drain(channel.Reader, worker, pool));
        Assert.Equal(3, ring0.Delivered);
        Assert.Equal(3, pool.Allocated);

        // The two regular batches are in the pool; the big one was let go.
        writer.Add(0, Sample(4));
        writer.Flush();
        writer.Add(0, Sample(5));
        writer.Flush();
        Drain(channel.Reader, worker, pool);
        Assert.Equal(3, pool.Allocated);
        Assert.Equal(5, ring0.Delivered);
    }

    [Fact]
    public void Changing_the_ring_table_flushes_the_current_batch_first()
    {
        RingSource ring0 = Ring("decode_events", "reload0_total");
        RingSource ring1 = Ring("decode_events2", "reload1_total");
        Channel<SampleBatch> channel = BoundedChannel(8);
        var pool = new SampleBatchPool(BatchBytes);
        var writer = new BatchWriter(channel.Writer, pool) { Rings = [ring0] };
        var worker = new SampleWorker(channel.Reader, pool, NullLogger.Instance);

        writer.Add(0, Sample(1));
        writer.Rings = [ring1]; // a reload: index 0 now means another ring
        writer.Add(0, Sample(2));
        writer.Add(0, Sample(3));
        writer.Flush();
        Drain(channel.Reader, worker, pool);
        Assert.Equal(1, ring0.Delivered);
        Assert.Equal(2, ring1.Delivered);
    }
}
