using System.Text.Json;
using Bpf;
using BpfAgent.Decoding;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// Turns an ebpf_exporter config into the program set it means, against its object's BTF: each label's bytes of
/// the key (size, then padding) become the key field at that offset, so the set names fields as a native one does
/// and <c>convert</c> can print it. Metric names get ebpf_exporter's <c>ebpf_exporter_</c> prefix; a histogram's
/// last label is its bucket index; a last label named <c>cpu</c> on a per-CPU map splits the series by CPU, as
/// ebpf_exporter does.
/// </summary>
internal static class ExporterTranslator
{
    /// <summary>The prefix ebpf_exporter puts before every metric name (its Prometheus namespace).</summary>
    public const string Prefix = "ebpf_exporter_";

    /// <summary>ebpf_exporter keeps every series; bpf-agent's cap is set as high as it goes.</summary>
    private const int MaxSeries = 100_000;

    public static ProgramSetConfig? Translate(ExporterConfig config, OpenBpfObject open, List<ConfigError> errors)
    {
        int before = errors.Count;
        var maps = new List<MapConfig>();
        var perf = new List<PerfCounterConfig>();
        foreach (ExporterMetric metric in config.Metrics.Where(m => m.PerfEventArray))
        {
            if (TranslatePerfCounter(config, metric, open, errors) is PerfCounterConfig p)
            {
                perf.Add(p);
            }
        }

        foreach (ExporterMetric metric in config.Metrics.Where(m => !m.PerfEventArray))
        {
            if (TranslateMetric(config, metric, open, errors) is MapConfig map)
            {
                maps.Add(map);
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        return new ProgramSetConfig
        {
            Name = config.Name,
            File = config.File,
            ObjectPath = Path.GetFullPath(config.ObjectPath),
            Parameters = [.. config.Kaddrs.Select((k, i) => new ParameterConfig($"kaddr_{k}", KaddrValue(k), $"kaddrs[{i}]"))],
            Maps = maps,
            PerfCounters = perf,
            CgroupIdMaps = config.CgroupIdMap is CgroupIdMapConfig c ? [c] : [],
        };
    }

    /// <summary>The parameter value that stands for a symbol's address, resolved from /proc/kallsyms at load.</summary>
    public static JsonElement KaddrValue(string symbol) => JsonSerializer.SerializeToElement($"{KernelAddressValue.Prefix}{symbol}");

    // A perf-event-array counter: the samples' first bytes cut by size and padding, as ebpf_exporter cuts them.
    private static PerfCounterConfig? TranslatePerfCounter(ExporterConfig config, ExporterMetric metric, OpenBpfObject open, List<ConfigError> errors)
    {
        if (!open.TryGetMap(metric.Name, out OpenBpfMap map) || map.Type != BpfMapType.PerfEventArray)
        {
            errors.Add(new ConfigError(config.File, $"{metric.Key}.name", $"the object has no perf event array '{metric.Name}' (a perf_event_array counter reads the map of its name)",
                $"declare a BPF_MAP_TYPE_PERF_EVENT_ARRAY named {metric.Name}, or name one of: {string.Join(", ", open.Maps.Where(m => m.Type == BpfMapType.PerfEventArray).Select(m => m.Name))}"));
            return null;
        }

        var labels = new List<PerfCounterLabel>();
        int offset = 0;
        foreach (ExporterLabel l in metric.Labels)
        {
            labels.Add(new PerfCounterLabel(l.Name, offset, l.Size, l.Decoders, l.Key));
            offset += l.Size + l.Padding;
        }

        return new PerfCounterConfig(metric.Name, Prefix + metric.Name, metric.Help, labels, metric.FlushInterval, metric.Key);
    }

    private static MapConfig? TranslateMetric(ExporterConfig config, ExporterMetric metric, OpenBpfObject open, List<ConfigError> errors)
    {
        string file = config.File;
        if (!open.TryGetMap(metric.Name, out OpenBpfMap map))
        {
            errors.Add(new ConfigError(file, $"{metric.Key}.name", $"the object has no map '{metric.Name}' (ebpf_exporter reads each metric from the map of the same name)",
                $"name the metric after one of the object's maps: {string.Join(", ", open.Maps.Where(m => !m.Name.Contains('.', StringComparison.Ordinal)).Select(m => m.Name))}"));
            return null;
        }

        if (map.KeyType is not BtfType keyType || map.ValueType is not BtfType valueType
            || EventLayout.FromType(keyType, "key") is not EventLayout keys || EventLayout.FromType(valueType, "value") is not EventLayout values)
        {
            errors.Add(new ConfigError(file, $"{metric.Key}.name", $"map '{metric.Name}' has no BTF key and value types (an integer or a struct each)",
                "declare the map with __type(key, ...) and __type(value, ...) and compile with clang -g"));
            return null;
        }

        int before = errors.Count;
        List<ExporterLabel> labels = [.. metric.Labels];
        string? cpuLabel = null;
        if (BpfMapLayout.IsPerCpu(map.Type) && labels.Count > 0 && labels[^1].Name == "cpu")
        {
            ExporterLabel cpu = labels[^1];
            labels.RemoveAt(labels.Count - 1);
            cpuLabel = "cpu";
            if (cpu.Size != 2 || cpu.Padding != 0)
            {
                errors.Add(new ConfigError(file, $"{cpu.Key}.size", $"the cpu label of a per-CPU map is the CPU number ebpf_exporter appends to the key as a u16, not {cpu.Size} bytes",
                    "write size: 2 and no padding for the cpu label"));
            }
        }

        CheckSizes(file, metric, labels, map, keys, errors);
        var fields = new List<(ExporterLabel Label, EventField Field)>();
        int offset = 0;
        foreach (ExporterLabel l in labels)
        {
            EventField? f = FieldAt(keys, offset, l.Size);
            if (f is null && errors.Count == before)
            {
                errors.Add(new ConfigError(file, $"{l.Key}.size", $"bytes {offset} to {offset + l.Size - 1} of the key of map '{metric.Name}' ({keys.StructName}) are not one field",
                    $"make each label cover one field of the key and padding the gap after it; the key's fields are {Describe(keys)}"));
            }
            else if (f is not null)
            {
                fields.Add((l, f));
            }

            offset += l.Size + l.Padding;
        }

        if (errors.Count > before)
        {
            return null;
        }

        MapBucketsConfig? buckets = null;
        if (metric.Kind == ExporterMetricKind.Histogram)
        {
            (ExporterLabel bucketLabel, EventField bucketField) = fields[^1];
            fields.RemoveAt(fields.Count - 1);
            if (bucketLabel.Decoders.Count != 1 || bucketLabel.Decoders[0].Name != "uint")
            {
                errors.Add(new ConfigError(file, $"{bucketLabel.Key}.decoders", "the last label of a histogram is its bucket index, read as a number",
                    "give the bucket label the one decoder uint"));
                return null;
            }

            buckets = new MapBucketsConfig
            {
                Field = bucketField.Path,
                Kind = metric.BucketKind,
                Multiplier = metric.BucketMultiplier,
                Min = metric.BucketMin,
                Max = metric.BucketMax,
                Keys = metric.BucketKeys,
                LeFormat = LeFormat.Go,
            };
        }

        IReadOnlyList<(string Name, string Help)> outputs = metric.Values.Count > 0 ? metric.Values : [(metric.Name, metric.Help)];
        int valueBytes = outputs.Count * 8;
        if (map.ValueSize != valueBytes)
        {
            errors.Add(new ConfigError(file, metric.Values.Count > 0 ? $"{metric.Key}.values" : $"{metric.Key}.name",
                $"the value of map '{metric.Name}' is {map.ValueSize} bytes; ebpf_exporter reads {(outputs.Count == 1 ? "one u64" : $"{outputs.Count} u64s")} ({valueBytes} bytes)",
                metric.Values.Count > 0 ? "list one value per u64 of the map's value" : "make the map's value a u64 (__type(value, u64))"));
            return null;
        }

        var metrics = new List<MapMetricConfig>();
        for (int i = 0; i < outputs.Count; i++)
        {
            string? value = ValueField(values, i * 8);
            if (value is null && values.Find("value") is null)
            {
                errors.Add(new ConfigError(file, $"{metric.Key}.name", $"bytes {i * 8} to {(i * 8) + 7} of the value of map '{metric.Name}' ({values.StructName}) are not one u64 field",
                    $"declare the value as u64 fields; its fields are {Describe(values)}"));
                return null;
            }

            metrics.Add(new MapMetricConfig
            {
                Key = outputs.Count == 1 ? metric.Key : $"{metric.Key}.values[{i}]",
                Name = Prefix + outputs[i].Name,
                Kind = metric.Kind == ExporterMetricKind.Histogram ? MetricKind.Histogram : MetricKind.Counter,
                Help = outputs[i].Help,
                Value = value,
                Labels = [.. fields.Select(p => new LabelConfig { Key = p.Label.Key, Name = p.Label.Name, Field = p.Field.Path, Decoders = p.Label.Decoders })],
                CpuLabel = cpuLabel,
                Buckets = buckets,
                MaxSeries = MaxSeries,
            });
        }

        return new MapConfig { Key = metric.Key, Map = metric.Name, Metrics = metrics };
    }

    private static void CheckSizes(string file, ExporterMetric metric, List<ExporterLabel> labels, OpenBpfMap map, EventLayout keys, List<ConfigError> errors)
    {
        int total = labels.Sum(l => l.Size + l.Padding);
        if (labels.Count == 0)
        {
            if (metric.Kind == ExporterMetricKind.Histogram)
            {
                return; // the reader reported the missing bucket label
            }

            if (map.KeySize != 4)
            {
                errors.Add(new ConfigError(file, $"{metric.Key}.labels", $"a counter without labels reads the key 0 of an array (4 bytes); the key of map '{metric.Name}' is {map.KeySize} bytes",
                    $"add labels that cut the key ({keys.StructName}: {Describe(keys)}) by size and padding"));
            }

            return;
        }

        if (total != map.KeySize)
        {
            string parts = string.Join(" + ", labels.Select(l => l.Padding == 0 ? $"{l.Name} {l.Size}" : $"{l.Name} {l.Size}+{l.Padding}"));
            errors.Add(new ConfigError(file, $"{metric.Key}.labels", $"the labels take {total} bytes ({parts}) but the key of map '{metric.Name}' ({keys.StructName}) is {map.KeySize} bytes",
                $"make the sizes and paddings add up to {map.KeySize}: the key's fields are {Describe(keys)}"));
        }
    }

    /// <summary>The key field that is exactly bytes [offset, offset + size), the outermost one when a struct nests.</summary>
    private static EventField? FieldAt(EventLayout layout, int offset, int size) =>
        layout.Fields.Where(f => f.Offset == offset && f.Size == size && f.BitSize == 0)
            .OrderBy(f => f.Shape == FieldShape.Other).ThenBy(f => f.Path.Count(c => c == '.')).FirstOrDefault();

    private static string? ValueField(EventLayout layout, int offset) =>
        layout.Fields.FirstOrDefault(f => f.Offset == offset && f.Size == 8 && f.BitSize == 0 && f.IsInteger) is EventField f && f.Path != "value" ? f.Path : null;

    private static string Describe(EventLayout layout) =>
        string.Join(", ", layout.Fields.Where(f => !f.Path.Contains('.', StringComparison.Ordinal)).OrderBy(f => f.Offset)
            .Select(f => $"{f.Path} (bytes {f.Offset}..{f.Offset + f.Size - 1})"));
}
