using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Metrics;
using BpfAgent.Metrics.Maps;
using BpfAgent.ProgramSets;

namespace BpfAgent.Tests;

/// <summary>
/// Map keys and values of random bytes (padding included) read back through a map metric: nothing throws, every
/// entry's value lands in the series its key's labels name, the totals are exact, and the series limit holds.
/// </summary>
public sealed class MapDecodeFuzzTests
{
    [KernelFact]
    public void Random_keys_and_values_aggregate_exactly_by_their_decoded_labels()
    {
        var set = new ProgramSetConfig
        {
            Name = "fuzz",
            File = "fuzz.json",
            ObjectPath = Paths.TestObject("map_metrics_test"),
            Maps =
            [
                new MapConfig
                {
                    Map = "counts_hash",
                    Key = "maps[0]",
                    Metrics =
                    [
                        new MapMetricConfig
                        {
                            Name = "fuzz_total", Kind = MetricKind.Counter, Key = "maps[0].metrics[0]", Help = "Fuzz.", MaxSeries = 40,
                            Labels = [new LabelConfig { Name = "kind", Field = "kind", Key = "k" }, new LabelConfig { Name = "code", Field = "in.code", Key = "c" }],
                        },
                    ],
                },
            ],
        };
        using ProgramSetPlan plan = ProgramSetPlanner.Plan(set, Serilog.Core.Logger.None);
        List<MapPlan> plans = plan.Maps;
        using BpfObject obj = plan.Open.Load();
        BpfMap map = obj.GetMap("counts_hash");
        MapSource source = plans[0].Build("fuzz", obj);
        var metric = (IObservedMetric)source.Metrics[0];

        int codeOffset = Decoding.EventLayout.FromType(map.KeyType!, "key")!.Find("in.code")!.Offset; // after padding, from BTF
        var random = new Random(20261201);
        for (int round = 0; round < 5; round++)
        {
            // Random keys (kind limited so label sets repeat; the padding and the rest random), random values.
            var expected = new Dictionary<(string, string), double>();
            byte[] key = new byte[map.KeySize];
            byte[] value = new byte[8];
            var keys = new HashSet<string>();
            for (int i = 0; i < 200; i++)
            {
                random.NextBytes(key);
                BinaryPrimitives.WriteUInt32LittleEndian(key, (uint)random.Next(0, 12)); // kind
                ulong v = (ulong)random.NextInt64(0, 1_000_000);
                BinaryPrimitives.WriteUInt64LittleEndian(value, v);
                if (!keys.Add(Convert.ToHexString(key)))
                {
                    continue; // the same key twice: the second update replaces the first
                }

                map.Update(key, value);
                var labels = (BinaryPrimitives.ReadUInt32LittleEndian(key).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    BinaryPrimitives.ReadUInt16LittleEndian(key.AsSpan(codeOffset)).ToString(System.Globalization.CultureInfo.InvariantCulture));
                expected[labels] = expected.GetValueOrDefault(labels) + v;
            }

            Thread.Sleep(source.MaxAge + TimeSpan.FromMilliseconds(10));
            List<Measurement<double>> got = [.. metric.ObserveValues()];
            double total = expected.Values.Sum();
            Assert.Equal(total, got.Sum(m => m.Value));
            Assert.True(got.Count <= 41, $"{got.Count} series past maxSeries 40");
            foreach (Measurement<double> m in got)
            {
                var tags = m.Tags.ToArray().ToDictionary(t => t.Key, t => (string?)t.Value);
                if (tags["kind"] != LabelSet.OverflowValue)
                {
                    Assert.Equal(expected[(tags["kind"]!, tags["code"]!)], m.Value);
                }
            }

            Assert.Equal(expected.Count > 40, got.Any(m => m.Tags.ToArray().Any(t => (string?)t.Value == LabelSet.OverflowValue)));

            // Empty the map for the next round: every series leaves.
            foreach (byte[] k in map.Keys())
            {
                map.Delete(k);
            }

            Thread.Sleep(source.MaxAge + TimeSpan.FromMilliseconds(10));
            Assert.Empty(metric.ObserveValues());
        }
    }
}
