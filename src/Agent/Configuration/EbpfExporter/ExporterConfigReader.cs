using System.Text.Json;
using System.Text.RegularExpressions;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// Reads the keys of ebpf_exporter's config schema (<c>metrics.counters</c>, <c>metrics.histograms</c>, <c>kaddrs</c>,
/// <c>cgroup_id_map</c>, <c>tracing</c>) with their meanings; every key is honoured or refused with file, key and fix,
/// never ignored. Checks that need the object (label sizes against the key, map types) are the translator's.
/// </summary>
internal static partial class ExporterConfigReader
{
    private const string BucketTypes = "exp2, exp2zero, linear, fixed";

    public static ExporterConfig Read(string name, string file, JsonSection root)
    {
        var config = new ExporterConfig(name, file, Path.Combine(Path.GetDirectoryName(file) ?? ".", $"{name}.bpf.o"))
        {
            Kaddrs = [.. root.Strings("kaddrs") ?? []],
        };

        foreach (string kaddr in config.Kaddrs.Where(k => !Symbol().IsMatch(k)))
        {
            root.Error("kaddrs", $"'{kaddr}' is not a kernel symbol name", "list symbol names as /proc/kallsyms spells them, such as jiffies");
        }

        if (root.Has("tracing"))
        {
            root.Error("tracing", "bpf-agent exports metrics and logs, not OpenTelemetry spans",
                "remove \"tracing\" from this file (run ebpf_exporter alongside for its traces)");
        }

        if (root.Object("cgroup_id_map") is JsonSection cg)
        {
            string map = cg.String("name", required: true, "add \"name\": the hash map the program looks cgroup ids up in") ?? "";
            string type = cg.String("type") ?? "hash";
            if (type != "hash")
            {
                cg.Error("type", type == "cgrp_storage" ? "cgroup storage maps are not filled by bpf-agent yet" : $"'{type}' is not a cgroup id map type",
                    "use a BPF_MAP_TYPE_HASH of u64 cgroup id to u64 and type: hash (the default)");
            }

            IReadOnlyList<string> regexps = cg.Strings("regexps") ?? [];
            if (regexps.Count == 0)
            {
                cg.Error("regexps", "is required: a non-empty list of patterns", "list the cgroup paths to select, such as - ^.*(system.slice/.*)$");
            }

            cg.RejectUnknownKeys();
            config.CgroupIdMap = new CgroupIdMapConfig(map, regexps, "cgroup_id_map");
        }

        JsonSection? metrics = root.Object("metrics", required: true);
        if (metrics is not null)
        {
            config.Metrics.AddRange(metrics.Objects("counters").Select(ReadCounter));
            config.Metrics.AddRange(metrics.Objects("histograms").Select(ReadHistogram));
            if (config.Metrics.Count == 0 && root.Errors.All(e => e.File != file))
            {
                metrics.Error("", "defines no counters or histograms", "add metrics.counters or metrics.histograms");
            }

            metrics.RejectUnknownKeys();
        }

        root.RejectUnknownKeys();
        foreach (IGrouping<string, ExporterMetric> dup in config.Metrics.GroupBy(m => m.Name).Where(g => g.Count() > 1))
        {
            root.Error($"{dup.Last().Key}.name", $"'{dup.Key}' is defined twice (the name is also the map's)", "give each metric its own map and name");
        }

        return config;
    }

    private static ExporterMetric ReadCounter(JsonSection s)
    {
        bool perf = s.Bool("perf_event_array", false);
        TimeSpan flush = PerfCounterConfig.DefaultFlushInterval;
        if (s.Raw("flush_interval") is JsonElement f)
        {
            if (!perf)
            {
                s.Error("flush_interval", "only perf_event_array counters have a flush interval", "remove \"flush_interval\"");
            }
            else if (Web.WebConfigNames.Duration(f.ValueKind == JsonValueKind.String ? f.GetString()! : f.GetRawText()) is TimeSpan d && d > TimeSpan.Zero)
            {
                flush = d;
            }
            else
            {
                s.Error("flush_interval", $"'{f}' is not a positive duration", "write a Go duration such as 30s, 5m or 1h");
            }
        }

        var values = new List<(string, string)>();
        foreach (JsonSection v in s.Objects("values"))
        {
            values.Add((MetricName(v), v.String("help", required: true, "add \"help\": the metric's # HELP text") ?? ""));
            v.RejectUnknownKeys();
        }

        var metric = new ExporterMetric
        {
            Kind = ExporterMetricKind.Counter,
            Name = MetricName(s),
            Help = s.String("help", required: true, "add \"help\": the metric's # HELP text") ?? "",
            Key = s.Path,
            Labels = ReadLabels(s),
            Values = values,
            PerfEventArray = perf,
            FlushInterval = flush,
        };
        if (perf && values.Count > 0)
        {
            s.Error("values", "a perf_event_array counter counts samples: it has no values", "remove \"values\"");
        }

        s.RejectUnknownKeys();
        return metric;
    }

    private static ExporterMetric ReadHistogram(JsonSection s)
    {
        string name = MetricName(s);
        string help = s.String("help", required: true, "add \"help\": the metric's # HELP text") ?? "";
        string? type = s.String("bucket_type", required: true, $"add \"bucket_type\": one of {BucketTypes}");
        BucketKind kind = BucketKind.Exp2;
        if (type is not null && !TryBucketKind(type, out kind))
        {
            s.Error("bucket_type", $"'{type}' is not a bucket type", $"use one of: {BucketTypes}");
        }

        double multiplier = s.Number("bucket_multiplier", 1);
        if (multiplier == 0)
        {
            multiplier = 1; // ebpf_exporter reads a zero (or missing) multiplier as 1
        }
        else if (!(multiplier > 0) || double.IsInfinity(multiplier))
        {
            s.Error("bucket_multiplier", "must be a positive number", "write the unit of one bucket step, such as 0.000001 for microseconds to seconds");
        }

        int read = s.Errors.Count;
        int min = s.Int("bucket_min", 0, 0, 1 << 20);
        int max = s.Int("bucket_max", 0, 0, 1 << 20);
        bool bounds = type is not null && s.Errors.Count == read; // min and max compared only when both were numbers
        List<double>? keys = null;
        JsonElement? raw = s.Raw("bucket_keys");
        if (kind == BucketKind.Fixed)
        {
            if (raw is not { ValueKind: JsonValueKind.Array } a || a.GetArrayLength() == 0 || a.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Number))
            {
                s.Error("bucket_keys", "is required for fixed buckets: a non-empty list of numbers", "list the bucket keys the program writes, ascending, such as [1, 10, 100]");
            }
            else
            {
                keys = [.. a.EnumerateArray().Select(e => e.GetDouble())];
                if (keys.Zip(keys.Skip(1)).Any(p => p.Second <= p.First))
                {
                    s.Error("bucket_keys", "must be strictly ascending", "sort the keys and remove duplicates");
                }
            }
        }
        else
        {
            if (raw is not null)
            {
                s.Error("bucket_keys", "only fixed buckets have keys", "remove \"bucket_keys\", or write bucket_type: fixed");
            }

            if (bounds && max < min)
            {
                s.Error("bucket_max", $"{max} is below bucket_min {min}", "set bucket_max to the highest bucket index the program writes");
            }
            else if (bounds && max == min)
            {
                s.Error("bucket_max", $"bucket_min and bucket_max are both {min}: the histogram has no buckets", "set bucket_max to the highest bucket index the program writes");
            }
            else if (max - min > 1024)
            {
                s.Error("bucket_max", $"{max - min + 1} buckets are too many", "use at most 1025 buckets (bucket_max - bucket_min <= 1024)");
            }
        }

        IReadOnlyList<ExporterLabel> labels = ReadLabels(s);
        if (labels.Count == 0 && s.Has("labels"))
        {
            s.Error("labels", "needs at least the bucket label", "end the labels with the key's bucket index: - name: bucket, size: 8, decoders: [{name: uint}]");
        }
        else if (!s.Has("labels"))
        {
            s.Error("labels", "is required for a histogram (its last label is the bucket index)", "add labels ending with - name: bucket, size: 8, decoders: [{name: uint}]");
        }

        var metric = new ExporterMetric
        {
            Kind = ExporterMetricKind.Histogram,
            Name = name,
            Help = help,
            Key = s.Path,
            Labels = labels,
            BucketKind = kind,
            BucketMultiplier = multiplier,
            BucketMin = kind == BucketKind.Fixed ? 0 : min,
            BucketMax = kind == BucketKind.Fixed ? 0 : max,
            BucketKeys = keys,
        };
        s.RejectUnknownKeys();
        return metric;
    }

    private static bool TryBucketKind(string type, out BucketKind kind)
    {
        (bool ok, kind) = type switch
        {
            "exp2" => (true, BucketKind.Exp2),
            "exp2zero" => (true, BucketKind.Exp2Zero),
            "linear" => (true, BucketKind.Linear),
            "fixed" => (true, BucketKind.Fixed),
            _ => (false, BucketKind.Exp2),
        };
        return ok;
    }

    private static string MetricName(JsonSection s)
    {
        string name = s.String("name", required: true, "add \"name\": the metric's name, which is also its map's name") ?? "";
        if (name.Length > 0 && !Name().IsMatch(name))
        {
            s.Error("name", $"'{name}' is not a valid Prometheus metric name", "use letters, digits and '_' only, starting with a letter");
        }

        return name;
    }

    private static List<ExporterLabel> ReadLabels(JsonSection s)
    {
        var labels = new List<ExporterLabel>();
        foreach (JsonSection l in s.Objects("labels"))
        {
            string name = l.String("name", required: true, "add \"name\": the label's name") ?? "";
            if (name.Length > 0 && (!Name().IsMatch(name) || name.StartsWith("__", StringComparison.Ordinal)))
            {
                l.Error("name", $"'{name}' is not a valid Prometheus label name", "use letters, digits and '_', not starting with a digit or '__'");
            }

            int read = l.Errors.Count;
            int size = l.Int("size", 0, 0, 1 << 16);
            if (l.Errors.Count == read && size == 0)
            {
                l.Error("size", "is required and must be above 0", "give the number of key bytes this label takes, such as 4 for a u32");
            }

            int padding = l.Int("padding", 0, 0, 1 << 16);
            IReadOnlyList<Decoding.DecoderSpec> decoders = [];
            if (l.Raw("decoders") is JsonElement chain)
            {
                decoders = DecoderSpecReader.ReadChain(l, "decoders", chain);
            }
            else
            {
                l.Error("decoders", "is required", "add decoders, for example [{name: uint}] for a number or [{name: string}] for a char array");
            }

            labels.Add(new ExporterLabel(name, size, padding, decoders, l.Path));
            l.RejectUnknownKeys();
        }

        foreach (IGrouping<string, ExporterLabel> dup in labels.GroupBy(l => l.Name).Where(g => g.Count() > 1))
        {
            s.Error("labels", $"label '{dup.Key}' appears twice", "give each label a distinct name");
        }

        return labels;
    }

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex Name();

    [GeneratedRegex("^[A-Za-z_.$][A-Za-z0-9_.$]*$")]
    private static partial Regex Symbol();
}
