using System.Text.Json;

namespace BpfAgent.Configuration;

/// <summary>The <c>maps</c> section of a program set: metrics the programs aggregate in BPF maps, read at scrape.</summary>
public static partial class ProgramSetConfigReader
{
    private static MapConfig ReadMap(JsonSection s)
    {
        var map = new MapConfig
        {
            Key = s.Path,
            Map = s.String("map", required: true, "add \"map\": the name of a hash or array map of the object") ?? "",
            Metrics = s.Objects("metrics", required: true).Select(ReadMapMetric).ToList(),
        };
        s.RejectUnknownKeys();
        return map;
    }

    private static CgroupIdMapConfig ReadCgroupIdMap(JsonSection s)
    {
        var c = new CgroupIdMapConfig(
            s.String("map", required: true, "add \"map\": the hash map (u64 cgroup id to u64) the program looks cgroup ids up in") ?? "",
            s.Strings("regexps") ?? [],
            s.Path);
        if (c.Regexps.Count == 0)
        {
            s.Error("regexps", "is required: a non-empty list of patterns", "list the cgroup paths to select, such as [\"/system.slice/\"]");
        }

        s.RejectUnknownKeys();
        return c;
    }

    private static MapMetricConfig ReadMapMetric(JsonSection s)
    {
        string name = ReadMetricName(s);
        MetricKind kind = s.Enum("type", (MetricKind?)MetricKind.Counter, required: true) ?? MetricKind.Counter;
        MapBucketsConfig? buckets = null;
        JsonSection? b = s.Object("buckets", required: kind == MetricKind.Histogram);
        if (b is not null)
        {
            buckets = kind == MetricKind.Histogram ? ReadMapBuckets(b) : null;
            if (kind != MetricKind.Histogram)
            {
                s.Error("buckets", "only histograms have buckets", "remove \"buckets\" or make the metric a histogram");
            }
        }

        string? sumField = null;
        double sumScale = 1;
        if (s.Object("sum") is JsonSection sum)
        {
            if (kind != MetricKind.Histogram)
            {
                s.Error("sum", "only histograms have a sum", "remove \"sum\"");
            }

            sumField = sum.String("field", required: true, "add \"field\": the value-struct field that holds each bucket's sum");
            sumScale = sum.Number("scale", 1);
            sum.RejectUnknownKeys();
        }

        var metric = new MapMetricConfig
        {
            Key = s.Path,
            Name = name,
            Kind = kind,
            Help = s.String("help") ?? "",
            Value = s.String("value"),
            Scale = s.Number("scale", 1),
            Labels = ReadLabels(s),
            CpuLabel = s.String("cpuLabel"),
            Buckets = buckets,
            SumField = sumField,
            SumScale = sumScale,
            MaxSeries = s.Int("maxSeries", 1000, 1, 100_000),
        };
        if (metric.CpuLabel is string cpu && metric.Labels.Any(l => l.Name == cpu))
        {
            s.Error("cpuLabel", $"'{cpu}' is also the name of a label", "give the CPU label a name of its own");
        }

        if (metric.Labels.Count + (metric.CpuLabel is null ? 0 : 1) > MaxLabels)
        {
            s.Error("labels", $"has more than {MaxLabels} labels with cpuLabel", "drop a label or cpuLabel");
        }

        s.RejectUnknownKeys();
        return metric;
    }

    private static MapBucketsConfig ReadMapBuckets(JsonSection b)
    {
        string field = b.String("field", required: true, "add \"field\": the key field that holds the bucket index") ?? "";
        BucketKind kind = b.Enum("type", (BucketKind?)BucketKind.Exp2, required: true) ?? BucketKind.Exp2;
        double multiplier = b.Number("multiplier", 1);
        if (!(multiplier > 0) || double.IsInfinity(multiplier))
        {
            b.Error("multiplier", "must be a positive number", "write the unit of one step, such as 0.000001 for microseconds to seconds");
        }

        List<double>? keys = null;
        int min = 0, max = 0;
        JsonElement? raw = b.Raw("keys");
        if (kind != BucketKind.Fixed && raw is not null)
        {
            b.Error("keys", "only fixed buckets have keys", "remove \"keys\", or write \"type\": \"fixed\"");
        }

        if (kind == BucketKind.Fixed)
        {
            if (b.Has("min") || b.Has("max"))
            {
                b.Error(b.Has("max") ? "max" : "min", "fixed buckets take their indexes from \"keys\"", "remove \"min\" and \"max\"");
            }

            if (raw is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0
                || array.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number))
            {
                b.Error("keys", "is required for fixed buckets: a non-empty list of numbers", "write the bucket indexes the program uses, ascending, such as [1, 10, 100]");
            }
            else
            {
                keys = [.. array.EnumerateArray().Select(e => e.GetDouble())];
                if (keys.Zip(keys.Skip(1)).Any(p => p.Second <= p.First))
                {
                    b.Error("keys", "must be strictly ascending", "sort the keys and remove duplicates");
                }
            }
        }
        else
        {
            min = b.Int("min", 0, 0, 1 << 20);
            max = b.Int("max", -1, 0, 1 << 20);
            if (!b.Has("max"))
            {
                b.Error("max", "is required", "add \"max\": the highest bucket index the program writes (it puts larger values there too)");
            }
            else if (max < min)
            {
                b.Error("max", $"{max} is below min {min}", "make max at least min");
            }
            else if (max - min > 1024)
            {
                b.Error("max", $"{max - min + 1} buckets are too many", "use at most 1025 buckets (max - min <= 1024)");
            }
        }

        LeFormat le = b.Enum("le", (LeFormat?)LeFormat.Decimal) ?? LeFormat.Decimal;
        b.RejectUnknownKeys();
        return new MapBucketsConfig { Field = field, Kind = kind, Multiplier = multiplier, Min = min, Max = max, Keys = keys, LeFormat = le };
    }
}
