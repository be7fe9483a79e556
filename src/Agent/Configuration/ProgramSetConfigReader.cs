using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BpfAgent.Configuration;

/// <summary>
/// Reads every <c>*.json</c> of a program-set directory into <see cref="ProgramSetConfig"/>s, collecting every
/// problem (file, key, fix) rather than stopping at the first. Checks against the BPF object itself (maps,
/// structs, fields) happen when the set is opened.
/// </summary>
public static partial class ProgramSetConfigReader
{
    public const int MaxLabels = 4;

    public static (IReadOnlyList<ProgramSetConfig> Sets, IReadOnlyList<ConfigError> Errors) ReadDirectory(string directory, string configDirectory)
    {
        var sets = new List<ProgramSetConfig>();
        var errors = new List<ConfigError>();
        if (!Directory.Exists(directory))
        {
            errors.Add(new ConfigError(directory, "", "the program-set directory does not exist",
                "create it and put one <set>.json per program set in it, or set Agent:ProgramsDirectory"));
            return (sets, errors);
        }

        // Hidden names are not sets: a mounted ConfigMap's ..data and ..<timestamp> entries, editors' .swap files.
        foreach (string file in Directory.GetFiles(directory, "*.json").Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal))
        {
            ProgramSetConfig? set = ReadFile(file, configDirectory, errors);
            if (set is not null)
            {
                sets.Add(set);
            }
        }

        // ebpf_exporter's layout: <name>.yaml with <name>.bpf.o beside it.
        foreach (string file in Directory.GetFiles(directory, "*" + EbpfExporter.ExporterSetReader.Extension).Order(StringComparer.Ordinal))
        {
            if (ReadYamlFile(file, errors) is ProgramSetConfig set)
            {
                sets.Add(set);
            }
        }

        return (sets, errors);
    }

    /// <summary>An ebpf_exporter config: its name checked as a set's, then read by <see cref="EbpfExporter.ExporterSetReader"/>.</summary>
    public static ProgramSetConfig? ReadYamlFile(string file, List<ConfigError> errors)
    {
        string name = Path.GetFileNameWithoutExtension(file);
        if (!SetName().IsMatch(name))
        {
            errors.Add(new ConfigError(file, "", $"'{name}' is not a valid program-set name",
                "rename the config and its object to lowercase letters, digits, '_' or '-' (at most 48), starting with a letter"));
            return null;
        }

        if (File.Exists(Path.ChangeExtension(file, ".json")))
        {
            errors.Add(new ConfigError(file, "", $"set '{name}' is also defined by {name}.json", "keep one of the two files"));
            return null;
        }

        int before = errors.Count;
        ProgramSetConfig? set = EbpfExporter.ExporterSetReader.ReadFile(file, name, errors);
        if (set is not null)
        {
            CheckUnique(file, set, errors);
        }

        return errors.Count == before ? set : null;
    }

    public static ProgramSetConfig? ReadFile(string file, string configDirectory, List<ConfigError> errors)
    {
        string name = Path.GetFileNameWithoutExtension(file);
        if (!SetName().IsMatch(name))
        {
            errors.Add(new ConfigError(file, "", $"'{name}' is not a valid program-set name",
                "rename the file to lowercase letters, digits, '_' or '-' (at most 48), starting with a letter"));
            return null;
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(file), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            errors.Add(new ConfigError(file, AgentConfiguration.JsonPosition(e), $"invalid JSON: {AgentConfiguration.JsonMessage(e.Message)}", "fix the JSON syntax"));
            return null;
        }
        catch (IOException e)
        {
            errors.Add(new ConfigError(file, "", $"cannot be read: {e.Message}", "check the file and its permissions"));
            return null;
        }
        catch (UnauthorizedAccessException e)
        {
            errors.Add(new ConfigError(file, "", $"cannot be read: {e.Message}", "check the file and its permissions"));
            return null;
        }

        using (doc)
        {
            int before = errors.Count;
            var root = new JsonSection(file, "", doc.RootElement, errors);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new ConfigError(file, "", "must be a JSON object", "see config/programs.d/*.json for examples"));
                return null;
            }

            string? obj = root.String("object", required: true, "add \"object\": \"<name>.bpf.o\" (relative to the config directory, or absolute)");
            var set = new ProgramSetConfig
            {
                Name = name,
                File = file,
                ObjectPath = obj is null ? "" : Path.GetFullPath(obj, configDirectory),
                Optional = root.Bool("optional", false),
                Programs = root.Strings("programs"),
                Parameters = ReadParameters(root),
                Pinning = ReadPinning(root),
                RingBuffers = root.Objects("ringBuffers").Select(ReadRing).ToList(),
                Maps = root.Objects("maps").Select(ReadMap).ToList(),
                CgroupIdMaps = root.Objects("cgroupIdMaps").Select(ReadCgroupIdMap).ToList(),
                Variants = VariantConfigReader.Read(root),
                DropAlarmRatio = root.Has("dropAlarmRatio") ? root.Number("dropAlarmRatio", 0, 0, 1) : null,
            };
            root.RejectUnknownKeys();
            CheckUnique(file, set, errors);
            return errors.Count == before ? WithDefaultHelp(set) : null;
        }
    }

    // Every family gets a # HELP line (promtool and people reading /metrics expect one): the config's, or where it came from.
    private static ProgramSetConfig WithDefaultHelp(ProgramSetConfig set)
    {
        string Help(string help, string name) => help.Length > 0 ? help : $"{name}, from program set {set.Name}.";
        return set with
        {
            RingBuffers = [.. set.RingBuffers.Select(r => r with { Metrics = [.. r.Metrics.Select(m => m with { Help = Help(m.Help, m.Name) })] })],
            Maps = [.. set.Maps.Select(r => r with { Metrics = [.. r.Metrics.Select(m => m with { Help = Help(m.Help, m.Name) })] })],
        };
    }

    private static List<ParameterConfig> ReadParameters(JsonSection root)
    {
        var list = new List<ParameterConfig>();
        foreach ((string name, JsonElement value) in root.Properties("parameters") ?? [])
        {
            if (value.ValueKind is not (JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False or JsonValueKind.String))
            {
                root.Error($"parameters.{name}", $"must be a number, boolean or string, not {JsonSection.Describe(value)}", "give the value the BPF global should start with");
                continue;
            }

            list.Add(new ParameterConfig(name, value.Clone(), root.KeyPath($"parameters.{name}")));
        }

        return list;
    }

    private static PinningConfig ReadPinning(JsonSection root)
    {
        JsonSection? s = root.Object("pinning");
        if (s is null)
        {
            return new PinningConfig();
        }

        var p = new PinningConfig
        {
            Enabled = s.Bool("enabled", true),
            ReplaceIncompatible = s.Bool("replaceIncompatible", false),
        };
        s.RejectUnknownKeys();
        return p;
    }

    private static RingConfig ReadRing(JsonSection s)
    {
        var ring = new RingConfig
        {
            Key = s.Path,
            Map = s.String("map", required: true, "add \"map\": the name of the BPF_MAP_TYPE_RINGBUF map") ?? "",
            Struct = s.String("struct", required: true, "add \"struct\": the C struct name of one sample (without 'struct')") ?? "",
            Metrics = s.Objects("metrics").Select(ReadMetric).ToList(),
            Log = s.Object("log") is JsonSection log ? ReadLog(log) : null,
        };
        s.RejectUnknownKeys();
        return ring;
    }

    private static string ReadMetricName(JsonSection s)
    {
        string name = s.String("name", required: true, "add \"name\": a Prometheus metric name such as exec_events_total") ?? "";
        if (name.Length > 0 && !MetricName().IsMatch(name))
        {
            s.Error("name", $"'{name}' is not a valid Prometheus metric name", "use letters, digits and '_' only, starting with a letter");
        }
        else if (name.StartsWith("bpf_agent_", StringComparison.Ordinal))
        {
            s.Error("name", $"'{name}' uses the prefix reserved for the agent's own metrics", "choose a name that does not start with bpf_agent_");
        }

        return name;
    }

    private static MetricConfig ReadMetric(JsonSection s)
    {
        string name = ReadMetricName(s);

        // An invalid or missing type is one error: the checks that depend on the type are skipped, not guessed.
        MetricKind? type = s.Enum("type", (MetricKind?)null, required: true);
        MetricKind kind = type ?? MetricKind.Counter;
        string? field = s.String("field");
        if (field is null && type is not null && kind != MetricKind.Counter)
        {
            s.Error("field", $"is required for a {kind.ToString().ToLowerInvariant()}", "add \"field\": the struct field whose value is observed");
        }

        var metric = new MetricConfig
        {
            Key = s.Path,
            Name = name,
            Kind = kind,
            Help = s.String("help") ?? "",
            Field = field,
            Scale = s.Number("scale", 1),
            Buckets = type is null ? SkipBuckets(s) : ReadBuckets(s, kind),
            Labels = ReadLabels(s),
            MaxSeries = s.Int("maxSeries", 1000, 1, 100_000),
        };
        s.RejectUnknownKeys();
        return metric;
    }

    private static List<double>? SkipBuckets(JsonSection s)
    {
        _ = s.Raw("buckets");
        return null;
    }

    private static List<double>? ReadBuckets(JsonSection s, MetricKind kind)
    {
        JsonElement? raw = s.Raw("buckets");
        if (raw is null)
        {
            return null;
        }

        if (kind != MetricKind.Histogram)
        {
            s.Error("buckets", "only histograms have buckets", "remove \"buckets\" or make the metric a histogram");
            return null;
        }

        JsonElement v = raw.Value;
        if (v.ValueKind == JsonValueKind.Array)
        {
            var list = new List<double>();
            foreach (JsonElement e in v.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number)
                {
                    s.Error("buckets", "must contain only numbers", "write ascending upper bounds such as [0.001, 0.01, 0.1, 1]");
                    return null;
                }

                list.Add(e.GetDouble());
            }

            if (list.Count == 0 || list.Zip(list.Skip(1)).Any(p => p.Second <= p.First))
            {
                s.Error("buckets", "must be a non-empty, strictly ascending list", "write ascending upper bounds such as [0.001, 0.01, 0.1, 1]");
                return null;
            }

            return list;
        }

        if (v.ValueKind == JsonValueKind.Object)
        {
            var b = new JsonSection(s.File, s.KeyPath("buckets"), v, s.Errors);
            JsonSection? exp2 = b.Object("exp2", required: true);
            b.RejectUnknownKeys();
            if (exp2 is null)
            {
                return null;
            }

            double min = exp2.Number("min", double.NaN, double.Epsilon, double.MaxValue);
            double max = exp2.Number("max", double.NaN, double.Epsilon, double.MaxValue);
            exp2.RejectUnknownKeys();
            if (double.IsNaN(min) || double.IsNaN(max) || max <= min)
            {
                exp2.Error("", "needs \"min\" and \"max\" with 0 < min < max", "write \"exp2\": { \"min\": 0.000001, \"max\": 10 }");
                return null;
            }

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

        s.Error("buckets", $"must be an array or {{\"exp2\": {{...}}}}, not {JsonSection.Describe(v)}", "write [0.001, 0.01, 0.1] or {\"exp2\": {\"min\": 0.000001, \"max\": 10}}");
        return null;
    }

    private static List<LabelConfig> ReadLabels(JsonSection s)
    {
        var labels = new List<LabelConfig>();
        foreach (JsonSection l in s.Objects("labels"))
        {
            string? field = l.String("field", required: true, "add \"field\": the struct field the label's value comes from");
            string name = l.String("name") ?? field?.Replace('.', '_') ?? "";
            if (name.Length > 0 && (!LabelName().IsMatch(name) || name.StartsWith("__", StringComparison.Ordinal)))
            {
                l.Error("name", $"'{name}' is not a valid Prometheus label name", "use letters, digits and '_', not starting with a digit or '__'");
            }

            labels.Add(new LabelConfig { Key = l.Path, Name = name, Field = field ?? "", Decoders = DecoderSpecReader.ReadLabel(l) });
            l.RejectUnknownKeys();
        }

        if (labels.Count > MaxLabels)
        {
            s.Error("labels", $"has {labels.Count} labels; at most {MaxLabels} are supported", "drop the labels you do not aggregate by");
        }

        foreach (IGrouping<string, LabelConfig> dup in labels.GroupBy(l => l.Name).Where(g => g.Count() > 1))
        {
            s.Error("labels", $"label '{dup.Key}' appears twice", "give each label a distinct \"name\"");
        }

        return labels;
    }

    private static LogConfig ReadLog(JsonSection s)
    {
        Dictionary<string, IReadOnlyList<Decoding.DecoderSpec>> decoders = DecoderSpecReader.ReadLog(s);

        var log = new LogConfig
        {
            Key = s.Path,
            Level = s.Enum("level", (Serilog.Events.LogEventLevel?)Serilog.Events.LogEventLevel.Information) ?? Serilog.Events.LogEventLevel.Information,
            Message = s.String("message", required: true, "add \"message\": a template such as \"exec {comm} pid={pid}\"") ?? "",
            // Whole events per second: the limiter counts whole events, so 0.5 would log nothing at all.
            RatePerSecond = s.Int("ratePerSecond", 10, 0, 1_000_000),
            Decoders = decoders,
        };
        s.RejectUnknownKeys();
        return log;
    }

    private static void CheckUnique(string file, ProgramSetConfig set, List<ConfigError> errors)
    {
        foreach (IGrouping<string, RingConfig> dup in set.RingBuffers.GroupBy(r => r.Map).Where(g => g.Count() > 1))
        {
            errors.Add(new ConfigError(file, "ringBuffers", $"map '{dup.Key}' is listed twice", "list each ring buffer once and put all its metrics in it"));
        }

        foreach (IGrouping<string, MapConfig> dup in set.Maps.GroupBy(m => m.Map).Where(g => g.Count() > 1))
        {
            errors.Add(new ConfigError(file, "maps", $"map '{dup.Key}' is listed twice", "list each map once and put all its metrics in it"));
        }

        var metrics = set.RingBuffers.SelectMany(r => r.Metrics).Select(m => (m.Name, m.Key))
            .Concat(set.Maps.SelectMany(m => m.Metrics).Select(m => (m.Name, m.Key)));
        foreach (IGrouping<string, (string Name, string Key)> dup in metrics.GroupBy(m => m.Name).Where(g => g.Count() > 1))
        {
            errors.Add(new ConfigError(file, dup.Last().Key, $"metric '{dup.Key}' is defined twice", "give each metric a distinct name"));
        }
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,47}$")]
    private static partial Regex SetName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex MetricName();

    [GeneratedRegex("^[a-zA-Z_][a-zA-Z0-9_]*$")]
    private static partial Regex LabelName();
}
