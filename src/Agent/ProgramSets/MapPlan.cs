using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using BpfAgent.Metrics;
using BpfAgent.Metrics.Maps;

namespace BpfAgent.ProgramSets;

/// <summary>
/// A configured map checked against the object before load: its type, the BTF of its key and value, every field
/// a metric names and a decoder for each label (every mismatch a <see cref="ConfigError"/> with file, key and fix).
/// After load, <see cref="Build"/> makes the <see cref="MapSource"/> that reads it at scrape.
/// </summary>
public sealed class MapPlan
{
    private static readonly BpfMapType[] s_readable =
    [
        BpfMapType.Hash, BpfMapType.LruHash, BpfMapType.PerCpuHash, BpfMapType.LruPerCpuHash, BpfMapType.Array, BpfMapType.PerCpuArray,
    ];

    private readonly List<Action<MapSource>> _metrics = [];

    // Decoders of map keys may resolve stack ids through the object's stack-trace maps, bound once it is loaded.
    private readonly StackMapBinding _stackMaps;
    private readonly DecoderContext _decoders;

    private MapPlan(MapConfig config, OpenBpfObject open)
    {
        Config = config;
        _stackMaps = StackMapBinding.For(open);
        _decoders = new DecoderContext(stackMaps: _stackMaps);
    }

    public MapConfig Config { get; }

    /// <summary>The plan, or null with the problems added to <paramref name="errors"/>.</summary>
    public static MapPlan? Check(ProgramSetConfig set, MapConfig config, OpenBpfObject open, List<ConfigError> errors)
    {
        string file = set.File;
        if (!open.TryGetMap(config.Map, out OpenBpfMap map))
        {
            errors.Add(new ConfigError(file, $"{config.Key}.map", $"the object has no map '{config.Map}'",
                $"use one of its hash or array maps: {string.Join(", ", open.Maps.Where(m => s_readable.Contains(m.Type)).Select(m => m.Name))}"));
            return null;
        }

        if (!s_readable.Contains(map.Type))
        {
            errors.Add(new ConfigError(file, $"{config.Key}.map", $"map '{config.Map}' is a {map.Type} map, which has no entries to read at scrape",
                "name a hash, LRU hash, array map or their per-CPU kinds; ring buffers go under \"ringBuffers\""));
            return null;
        }

        if (map.KeyType is not BtfType keyType || map.ValueType is not BtfType valueType)
        {
            errors.Add(new ConfigError(file, $"{config.Key}.map", $"map '{config.Map}' has no BTF key or value type",
                "declare the map with __type(key, ...) and __type(value, ...) and compile with clang -g"));
            return null;
        }

        EventLayout? keys = EventLayout.FromType(keyType, "key");
        EventLayout? values = EventLayout.FromType(valueType, "value");
        if (keys is null || values is null)
        {
            errors.Add(new ConfigError(file, $"{config.Key}.map", $"map '{config.Map}': key and value must each be an integer, an enum or a struct",
                "declare the key and value as a struct, or an integer type"));
            return null;
        }

        bool perCpu = map.Type is BpfMapType.PerCpuHash or BpfMapType.LruPerCpuHash or BpfMapType.PerCpuArray;
        int cpus = perCpu ? Libbpf.PossibleCpuCount : 1;
        var plan = new MapPlan(config, open);
        int before = errors.Count;
        foreach (MapMetricConfig m in config.Metrics)
        {
            plan.CheckMetric(set, m, keys, values, perCpu, cpus, map.MaxEntries, errors);
        }

        return errors.Count == before ? plan : null;
    }

    private void CheckMetric(ProgramSetConfig set, MapMetricConfig m, EventLayout keys, EventLayout values, bool perCpu, int cpus, int maxEntries, List<ConfigError> errors)
    {
        string file = set.File;
        int before = errors.Count;
        EventField? value = Field(file, values, m.Value ?? "value", $"{m.Key}.value", "the map's value", errors,
            m.Value is null ? "the value is a struct: add \"value\": the field to read" : null);
        if (m.CpuLabel is not null && !perCpu)
        {
            errors.Add(new ConfigError(file, $"{m.Key}.cpuLabel", $"map '{Config.Map}' is not a per-CPU map", "remove \"cpuLabel\""));
        }

        EventField? bucket = null;
        MapBuckets? buckets = null;
        EventField? sum = null;
        if (m.Kind == MetricKind.Histogram && m.Buckets is MapBucketsConfig b)
        {
            bucket = Field(file, keys, b.Field, $"{m.Key}.buckets.field", "the map's key", errors, null);
            buckets = new MapBuckets(b);
            if (m.Labels.Any(l => l.Field == b.Field))
            {
                errors.Add(new ConfigError(file, $"{m.Key}.labels", $"field '{b.Field}' is the bucket index, so it cannot also be a label",
                    "remove that label: each bucket is a le bound of the histogram"));
            }

            if (m.SumField is string s)
            {
                sum = Field(file, values, s, $"{m.Key}.sum.field", "the map's value", errors, null);
            }
        }

        var labels = new List<(string, FieldValueDecoder)>();
        foreach (LabelConfig l in m.Labels)
        {
            EventField? f = keys.Find(l.Field);
            if (f is null)
            {
                errors.Add(new ConfigError(file, $"{l.Key}.field", $"the map's key ({keys.StructName}) has no field '{l.Field}'",
                    $"use one of: {string.Join(", ", keys.Fields.Select(x => x.Path))}"));
            }
            else
            {
                FieldValueDecoder? d = FieldValueDecoder.Create(f, l.Decoders, _decoders, out string? problem);
                if (d is null)
                {
                    errors.Add(new ConfigError(file, $"{l.Key}.{(l.Decoders.Count > 1 ? "decoders" : "decoder")}", problem!,
                        "choose a decoder that fits the field's type (see docs/configuration.md)"));
                }
                else
                {
                    labels.Add((l.Name, d));
                }
            }
        }

        if (errors.Count > before)
        {
            return;
        }

        _metrics.Add(source => source.Add(m.Kind == MetricKind.Histogram
            ? new MapHistogramMetric(source, m, labels, value!, sum, cpus, maxEntries, bucket!, buckets!)
            : new MapValueMetric(source, m, labels, value!, cpus, maxEntries)));
    }

    /// <summary>The map's reader and metrics, on the loaded object.</summary>
    public MapSource Build(string setName, BpfObject obj)
    {
        _stackMaps.Attach(obj);
        var source = new MapSource(setName, obj.GetMap(Config.Map));
        foreach (Action<MapSource> add in _metrics)
        {
            add(source);
        }

        return source;
    }

    private static EventField? Field(string file, EventLayout layout, string path, string key, string what, List<ConfigError> errors, string? missingFix)
    {
        EventField? f = layout.Find(path);
        if (f is null)
        {
            errors.Add(new ConfigError(file, key, $"{what} ({layout.StructName}) has no field '{path}'",
                missingFix ?? $"use one of: {string.Join(", ", layout.Fields.Select(x => x.Path))}"));
            return null;
        }

        if (!f.IsInteger)
        {
            errors.Add(new ConfigError(file, key, $"field '{path}' of {what} is not an integer", "name an integer or enum field"));
            return null;
        }

        return f;
    }
}
