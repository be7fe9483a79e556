using System.Diagnostics;
using System.Text;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics.Exposition;
using BpfAgent.Metrics.Maps;
using BpfAgent.ProgramSets;

namespace BpfAgent.Bench;

internal sealed record MapScrapeResult(string Map, int Entries, double MsPerScrape, double BytesPerScrape, double BytesPerEntry, string? Problem);

/// <summary>
/// Scrape cost of map metrics: a map filled from user space with N entries of an ebpf_exporter-style histogram
/// (id x 20 buckets, id as the label), read and written as the agent does at each scrape (read every entry,
/// decode the key once per distinct bytes, aggregate, write the histogram family's text), timed over repeated
/// scrapes after a warm-up, with the bytes allocated per scrape in steady state.
/// </summary>
internal static class MapScrapeScenario
{
    private const int Buckets = 20;

    public static List<MapScrapeResult> Run(BenchSettings s, Action<string> log)
    {
        var results = new List<MapScrapeResult>();
        string path = Path.Combine(s.Root, "build", "bench", "map_scrape.bpf.o");
        foreach (string map in new[] { "scrape_hash", "scrape_percpu" })
        {
            foreach (int entries in new[] { 1_000, 10_000, 100_000 })
            {
                try
                {
                    results.Add(Measure(path, map, entries, log));
                }
                catch (Exception e) when (e is BpfException or IOException or InvalidOperationException)
                {
                    results.Add(new MapScrapeResult(map, entries, double.NaN, double.NaN, double.NaN, e.Message));
                }
            }
        }

        return results;
    }

    private static MapScrapeResult Measure(string objectPath, string mapName, int entries, Action<string> log)
    {
        var set = new ProgramSetConfig
        {
            Name = "bench",
            File = "bench.json",
            ObjectPath = objectPath,
            Maps =
            [
                new MapConfig
                {
                    Map = mapName,
                    Key = "maps[0]",
                    Metrics =
                    [
                        new MapMetricConfig
                        {
                            Name = "bench_map_seconds",
                            Kind = MetricKind.Histogram,
                            Key = "maps[0].metrics[0]",
                            Help = "Bench.",
                            Labels = [new LabelConfig { Name = "id", Field = "id", Key = "maps[0].metrics[0].labels[0]" }],
                            Buckets = new MapBucketsConfig { Field = "bucket", Kind = BucketKind.Exp2, Min = 0, Max = Buckets - 1, Multiplier = 0.000001 },
                            MaxSeries = 100_000,
                        },
                    ],
                },
            ],
        };

        using ProgramSetPlan plan = ProgramSetPlanner.Plan(set, Serilog.Core.Logger.None); // throws the set's config errors
        List<MapPlan> plans = plan.Maps;
        using BpfObject obj = plan.Open.Load();
        BpfMap map = obj.GetMap(mapName);
        Fill(map, entries);
        MapSource source = plans[0].Build("bench", obj);
        // One read per scrape: each timed scrape waits past MaxAge, so none reuses the previous read.
        var family = (IHistogramFamily)source.Metrics[0];
        var text = new StringBuilder(1 << 20);

        void Scrape()
        {
            text.Clear();
            HistogramFamilyWriter.Write(text, family, openMetrics: false);
        }

        // Warm-up: the key cache and series are built; JIT reaches tier 1.
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(source.MaxAge + TimeSpan.FromMilliseconds(5));
            Scrape();
        }

        int scrapes = entries >= 100_000 ? 10 : 30;
        double totalMs = 0;
        long allocated = 0;
        for (int i = 0; i < scrapes; i++)
        {
            Thread.Sleep(source.MaxAge + TimeSpan.FromMilliseconds(5));
            long before = GC.GetAllocatedBytesForCurrentThread();
            long start = Stopwatch.GetTimestamp();
            Scrape();
            totalMs += Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            allocated += GC.GetAllocatedBytesForCurrentThread() - before;
        }

        int series = entries / Buckets;
        if (!text.ToString().Contains($"id=\"{series - 1}\"", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{mapName}: the scrape lacks series id={series - 1}");
        }

        double ms = totalMs / scrapes;
        double bytes = (double)allocated / scrapes;
        log($"map scrape {mapName} {entries} entries: {ms:F2} ms, {bytes:F0} B allocated per scrape ({text.Length} chars of text)");
        return new MapScrapeResult(mapName, entries, ms, bytes, bytes / entries, null);
    }

    // id = i / Buckets, bucket = i % Buckets: entries / 20 series of 20 buckets each.
    private static void Fill(BpfMap map, int entries)
    {
        Span<byte> key = stackalloc byte[8];
        int cpus = map.IsPerCpu ? Libbpf.PossibleCpuCount : 1;
        byte[] value = new byte[8 * cpus];
        for (int i = 0; i < entries; i++)
        {
            BitConverter.TryWriteBytes(key, (uint)(i / Buckets));
            BitConverter.TryWriteBytes(key[4..], (uint)(i % Buckets));
            for (int c = 0; c < cpus; c++)
            {
                BitConverter.TryWriteBytes(value.AsSpan(8 * c), (ulong)(i + c + 1));
            }

            map.Update(key, value);
        }
    }
}
