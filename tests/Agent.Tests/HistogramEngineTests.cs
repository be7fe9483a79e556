using System.Text;
using BpfAgent.Metrics.Exposition;
using BpfAgent.Metrics.Histograms;

namespace BpfAgent.Tests;

/// <summary>The histogram engine without the kernel: bucket index by bits and by search, number formatting, family text.</summary>
public sealed class HistogramEngineTests
{
    private static List<double> Exp2(double min, int n) => [.. Enumerable.Range(0, n).Select(i => min * Math.Pow(2, i))];

    // What a bucket is by definition: the first bound the value does not exceed.
    private static int Reference(IReadOnlyList<double> bounds, double v)
    {
        int i = 0;
        while (i < bounds.Count && !(v <= bounds[i]))
        {
            i++;
        }

        return i;
    }

    [Fact]
    public void Exp2_index_by_bits_equals_the_definition_on_bounds_neighbours_and_random_values()
    {
        foreach (double min in new[] { 1e-6, 1.0, 0.001, 3e-9, 5.0 })
        {
            var layout = new BucketLayout(Exp2(min, 21));
            Assert.True(layout.IsExp2);
            var values = new List<double> { 0, -1, double.MaxValue, double.PositiveInfinity, double.Epsilon };
            foreach (double b in layout.Bounds)
            {
                values.AddRange([b, Math.BitDecrement(b), Math.BitIncrement(b), b * 0.75, b * 1.5]);
            }

            var random = new Random(42);
            for (int i = 0; i < 20_000; i++)
            {
                values.Add(min * Math.Pow(2, random.NextDouble() * 24 - 2));
            }

            foreach (double v in values)
            {
                Assert.True(Reference(layout.Bounds, v) == layout.IndexOf(v), $"min {min}, value {v:R}: {layout.IndexOf(v)}, expected {Reference(layout.Bounds, v)}");
            }
        }
    }

    [Fact]
    public void Explicit_bounds_short_and_long_lists_agree_with_the_definition()
    {
        var random = new Random(7);
        foreach (IReadOnlyList<double> bounds in new[] { BucketLayout.DefaultBounds, [0.5], [-10, -1, 0, 1, 10], [.. Enumerable.Range(1, 40).Select(i => i * 0.25)] })
        {
            var layout = new BucketLayout(bounds);
            Assert.False(layout.IsExp2 && bounds.Count < 2);
            foreach (double v in bounds.SelectMany(b => new[] { b, Math.BitIncrement(b), Math.BitDecrement(b) }).Concat(Enumerable.Range(0, 5000).Select(_ => random.NextDouble() * 30 - 12)))
            {
                Assert.Equal(Reference(bounds, v), layout.IndexOf(v));
            }
        }

        Assert.Equal(1, new BucketLayout([1.0]).IndexOf(double.NaN)); // NaN: +Inf, never a real bucket
        Assert.Throws<ArgumentException>(() => new BucketLayout([1.0, 1.0]));
        Assert.Throws<ArgumentException>(() => new BucketLayout([]));
    }

    [Theory]
    [InlineData(0.000001, "0.000001")]
    [InlineData(1e-9, "0.000000001")]
    [InlineData(1.048576, "1.048576")]
    [InlineData(2e21, "2000000000000000000000")]
    [InlineData(0.1, "0.1")]
    [InlineData(10000, "10000")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NaN, "NaN")]
    public void Numbers_are_plain_decimal_and_read_back_exactly(double v, string text)
    {
        Assert.Equal(text, PrometheusText.Number(v));
        if (double.IsFinite(v))
        {
            Assert.Equal(v, double.Parse(text, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public void A_family_is_written_with_cumulative_buckets_plus_inf_sum_count_and_escaped_labels()
    {
        var family = new Family([1, 2], ["path"], [(["a\"b\\c"], [1, 2, 3], 7.5)]);
        var text = new StringBuilder();
        HistogramFamilyWriter.Write(text, family, openMetrics: false);
        Assert.Equal(
            "# HELP h_seconds Help with \\\\ and \\n.\n" +
            "# TYPE h_seconds histogram\n" +
            "h_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"1\"} 1\n" +
            "h_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"2\"} 3\n" +
            "h_seconds_bucket{path=\"a\\\"b\\\\c\",le=\"+Inf\"} 6\n" +
            "h_seconds_sum{path=\"a\\\"b\\\\c\"} 7.5\n" +
            "h_seconds_count{path=\"a\\\"b\\\\c\"} 6\n", text.ToString());

        text.Clear();
        HistogramFamilyWriter.Write(text, family, openMetrics: true);
        string om = text + "# EOF\n";
        Assert.StartsWith("# TYPE h_seconds histogram\n# UNIT h_seconds seconds\n# HELP h_seconds ", om, StringComparison.Ordinal);
        Assert.Contains("h_seconds_created{path=\"a\\\"b\\\\c\"} 1700000000.5\n", om, StringComparison.Ordinal);
        Assert.Empty(OpenMetricsCheck.Problems(om));
    }

    private sealed class Family(double[] bounds, string[] labels, (string?[] Values, long[] Counts, double Sum)[] series) : IHistogramFamily
    {
        public string Name => "h_seconds";

        public string Help => "Help with \\ and \n.";

        public IReadOnlyList<string> LabelNames => labels;

        public IReadOnlyList<double> Bounds => bounds;

        public void Collect(HistogramPoint point, Action<HistogramPoint> write)
        {
            foreach ((string?[] values, long[] counts, double sum) in series)
            {
                point.LabelValues = values;
                counts.CopyTo(point.Counts, 0);
                point.Sum = sum;
                point.Created = 1700000000.5;
                write(point);
            }
        }
    }
}
