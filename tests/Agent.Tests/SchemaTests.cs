using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using BpfAgent.Configuration;
using BpfAgent.Decoding;
using Microsoft.Extensions.Configuration;

namespace BpfAgent.Tests;

/// <summary>
/// config/schema/*.schema.json against the shipped config and against the readers: the shipped files are JSON,
/// name their schema and validate against it; at every level of a program set the schema allows exactly the keys
/// ProgramSetConfigReader accepts (and the Agent section exactly AgentOptions' settings, with the same defaults);
/// the enums are the readers' enums.
/// </summary>
public sealed partial class SchemaTests : IDisposable
{
    private const string Draft = "https://json-schema.org/draft/2020-12/schema";
    private const string Unknown = "zzz_unknown_key";

    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-schema-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string SchemaDir => Path.Combine(Paths.Root, "config", "schema");

    private static JsonNode ProgramSetSchema => Load(Path.Combine(SchemaDir, "program-set.schema.json"));

    private static JsonNode AgentSchema => Load(Path.Combine(SchemaDir, "agent.schema.json"));

    public static TheoryData<string> ShippedFiles()
    {
        var data = new TheoryData<string> { "agent.json" };
        foreach (string f in Directory.GetFiles(Path.Combine(Paths.ShippedConfig, "programs.d"), "*.json").Order(StringComparer.Ordinal))
        {
            data.Add("programs.d/" + Path.GetFileName(f));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ShippedFiles))]
    public void Shipped_file_is_json_that_validates_against_the_schema_it_names(string relative)
    {
        string file = Path.Combine(Paths.ShippedConfig, relative);
        JsonNode doc = Load(file); // strict JSON: no comments, no trailing commas

        string? schemaRef = doc["$schema"]?.GetValue<string>();
        Assert.False(schemaRef is null, $"{relative} has no \"$schema\"");
        string schemaFile = Path.GetFullPath(schemaRef, Path.GetDirectoryName(file)!);
        string expected = relative == "agent.json" ? "agent.schema.json" : "program-set.schema.json";
        Assert.Equal(Path.Combine(SchemaDir, expected), schemaFile);

        IReadOnlyList<string> problems = new MiniSchema(Load(schemaFile)).Validate(doc);
        Assert.True(problems.Count == 0, $"{relative}:\n{string.Join('\n', problems)}");
    }

    [Fact]
    public void Schemas_are_draft_2020_12_and_closed_wherever_they_name_properties()
    {
        foreach (string file in Directory.GetFiles(SchemaDir, "*.schema.json"))
        {
            JsonNode schema = Load(file);
            Assert.Equal(Draft, schema["$schema"]?.GetValue<string>());
            foreach ((string path, JsonObject s) in Subschemas(schema, "#"))
            {
                if (s.ContainsKey("properties"))
                {
                    Assert.True(s["additionalProperties"] is JsonValue v && v.GetValueKind() == JsonValueKind.False,
                        $"{Path.GetFileName(file)} {path}: has properties but not \"additionalProperties\": false");
                }
            }
        }
    }

    /// <summary>The levels of a program set, each: where it is in <see cref="Probe"/> and its schema.</summary>
    public static TheoryData<string, string> Levels() => new()
    {
        { "", "" },
        { "pinning", "/properties/pinning" },
        { "variants/0", "/$defs/variant" },
        { "ringBuffers/0", "/$defs/ringBuffer" },
        { "ringBuffers/0/metrics/0", "/$defs/metric" },
        { "ringBuffers/0/metrics/0/buckets", "/$defs/metric/properties/buckets/oneOf/1" },
        { "ringBuffers/0/metrics/0/buckets/exp2", "/$defs/metric/properties/buckets/oneOf/1/properties/exp2" },
        { "ringBuffers/0/metrics/0/labels/0", "/$defs/label" },
        { "ringBuffers/0/metrics/0/labels/0/decoders/1", "/$defs/decoderObject" },
        { "ringBuffers/0/log", "/$defs/log" },
        { "maps/0", "/$defs/map" },
        { "maps/0/metrics/0", "/$defs/mapMetric" },
        { "maps/0/metrics/0/buckets", "/$defs/mapBuckets" },
        { "maps/0/metrics/0/sum", "/$defs/mapMetric/properties/sum" },
        { "maps/0/metrics/0/labels/0", "/$defs/label" },
    };

    /// <summary>A set that reaches every level of the format, valid for both the reader and the schema.</summary>
    private const string Probe = """
        {
          "object": "probe.bpf.o",
          "pinning": { "enabled": true },
          "variants": [ { "name": "probe", "programs": [ "handle" ], "maps": [ "start" ], "requires": [ "task_storage", "kfunc:bpf_rdonly_cast" ] } ],
          "ringBuffers": [
            {
              "map": "events",
              "struct": "event",
              "metrics": [
                {
                  "name": "probe_seconds",
                  "type": "histogram",
                  "field": "latency_ns",
                  "buckets": { "exp2": { "min": 0.001, "max": 1 } },
                  "labels": [ { "field": "comm", "decoders": [ "string", { "name": "regexp", "regexps": [ "." ] } ] } ]
                }
              ],
              "log": { "message": "{comm}" }
            }
          ],
          "maps": [
            {
              "map": "hist",
              "metrics": [
                {
                  "name": "probe_map_seconds",
                  "type": "histogram",
                  "value": "count",
                  "buckets": { "field": "bucket", "type": "exp2", "max": 20, "multiplier": 0.000001 },
                  "sum": { "field": "sum" },
                  "labels": [ { "field": "comm" } ]
                }
              ]
            }
          ]
        }
        """;

    [Theory]
    [MemberData(nameof(Levels))]
    public void Program_set_schema_allows_exactly_the_keys_the_reader_accepts(string level, string pointer)
    {
        // The reader lists the keys it knows at a level when it meets one it does not: ask it.
        JsonNode doc = JsonNode.Parse(Probe)!;
        At(doc, level)[Unknown] = 1;
        List<ConfigError> errors = ReadSet(doc);
        ConfigError unknown = Assert.Single(errors, e => e.Key.EndsWith(Unknown, StringComparison.Ordinal));
        Match m = KnownKeys().Match(unknown.Fix);
        Assert.True(m.Success, $"the reader's message no longer lists the known keys: {unknown}");
        string[] reader = [.. m.Groups[1].Value.Split(", ").Order(StringComparer.Ordinal)];

        JsonObject schema = Resolve(ProgramSetSchema, pointer);
        string[] allowed = [.. schema["properties"]!.AsObject().Select(p => p.Key).Where(k => !k.StartsWith('$')).Order(StringComparer.Ordinal)];

        Assert.Equal(reader, allowed);
        // The probe itself is valid for both; with the unknown key the schema refuses it too.
        Assert.Empty(ReadSet(JsonNode.Parse(Probe)!));
        Assert.Empty(new MiniSchema(ProgramSetSchema).Validate(JsonNode.Parse(Probe)!));
        Assert.Contains(new MiniSchema(ProgramSetSchema).Validate(doc), p => p.Contains(Unknown, StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Levels))]
    public void Comments_are_allowed_at_every_level_by_both(string level, string pointer)
    {
        JsonNode doc = JsonNode.Parse(Probe)!;
        At(doc, level)["$comment"] = "a note";

        Assert.Empty(ReadSet(doc));
        Assert.Empty(new MiniSchema(ProgramSetSchema).Validate(doc));
        Assert.True(Resolve(ProgramSetSchema, pointer)["properties"]!.AsObject().ContainsKey("$comment"));
    }

    [Fact]
    public void Schema_enums_are_the_readers_enums()
    {
        JsonNode s = ProgramSetSchema;
        static string[] Lower<T>(Func<T, bool>? keep = null)
            where T : struct, Enum =>
            [.. Enum.GetValues<T>().Where(v => keep?.Invoke(v) ?? true).Select(v => v.ToString().ToLowerInvariant()).Order(StringComparer.Ordinal)];
        static string[] EnumAt(JsonNode schema, string pointer) =>
            [.. Resolve(schema, pointer)["enum"]!.AsArray().Select(e => e!.GetValue<string>()).Order(StringComparer.Ordinal)];

        Assert.Equal(Lower<MetricKind>(), EnumAt(s, "/$defs/metric/properties/type"));
        // The decoder names come from the registry's one table.
        Assert.Equal([.. DecoderRegistry.Names.Order(StringComparer.Ordinal)], EnumAt(s, "/$defs/decoderName"));
        Assert.Equal([.. DecoderRegistry.PlainNames.Order(StringComparer.Ordinal)], EnumAt(s, "/$defs/plainDecoder"));
        Assert.Equal([.. DecoderRegistry.PlainNames.Append("map").Order(StringComparer.Ordinal)], EnumAt(s, "/$defs/labelDecoder"));
        Assert.Equal(Lower<Serilog.Events.LogEventLevel>(), EnumAt(s, "/$defs/log/properties/level"));
    }

    [Theory]
    [InlineData("""{ "objekt": "a.bpf.o" }""")]
    [InlineData("""{ "object": "a.bpf.o", "pinning": { "enable": true } }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "summary" } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "gauge" } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoder": "hexadecimal" } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoder": "map" } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "buckets": [ 1, 2 ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "bpf_agent_x", "type": "counter" } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "level": "loud", "message": "m" } } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "decoders": { "f": "map" } } } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoders": [] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoders": [ "regexp" ] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoder": "uint", "decoders": [ "uint" ] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoders": [ { "name": "uint", "regexps": [ "x" ] } ] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoders": [ { "name": "static_map" } ] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "x", "type": "counter", "labels": [ { "field": "f", "decoders": [ { "name": "map", "static_map": { "1": "a" }, "allow_unknown": true } ] } ] } ] } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "decoders": { "f": [ "uint", "hexa" ] } } } ] }""")]
    [InlineData("""{ "object": "a.bpf.o", "dropAlarmRatio": 2 }""")]
    [InlineData("""{ "object": "a.bpf.o", "parameters": { "p": [ 1 ] } }""")]
    public void A_set_the_reader_refuses_the_schema_refuses_too(string json)
    {
        JsonNode doc = JsonNode.Parse(json)!;

        Assert.NotEmpty(ReadSet(doc));
        Assert.NotEmpty(new MiniSchema(ProgramSetSchema).Validate(doc));
    }

    [Fact]
    public void Agent_schema_lists_exactly_the_agents_settings_with_their_defaults()
    {
        var errors = new List<ConfigError>();
        IConfiguration probe = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Agent:" + Unknown] = "1" }).Build();
        _ = AgentOptions.Read(probe, "/etc/bpf-agent", "/etc/bpf-agent/agent.json", errors);
        ConfigError unknown = Assert.Single(errors);
        Match m = KnownSettings().Match(unknown.Fix);
        Assert.True(m.Success, $"the reader's message no longer lists the known settings: {unknown}");
        string[] reader = [.. m.Groups[1].Value.Split(", ").Order(StringComparer.Ordinal)];

        JsonObject agent = Resolve(AgentSchema, "/properties/Agent");
        JsonObject properties = agent["properties"]!.AsObject();
        Assert.Equal(reader, properties.Select(p => p.Key).Where(k => k != "$comment").Order(StringComparer.Ordinal));

        // Each documented default is what the agent uses when the setting is absent.
        errors.Clear();
        AgentOptions defaults = AgentOptions.Read(new ConfigurationBuilder().Build(), "/etc/bpf-agent", "/etc/bpf-agent/agent.json", errors);
        Assert.Empty(errors);
        foreach ((string name, JsonNode? p) in properties.Where(p => p.Key != "$comment"))
        {
            JsonNode? documented = p!["default"];
            Assert.False(documented is null, $"Agent.{name} has no default in the schema");
            object actual = typeof(AgentOptions).GetProperty(name)!.GetValue(defaults)!;
            string expected = documented.GetValueKind() == JsonValueKind.String ? documented.GetValue<string>() : documented.ToJsonString();
            string got = actual switch
            {
                bool b => b ? "true" : "false",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => actual.ToString()!,
            };
            Assert.True(expected == got, $"Agent.{name}: the schema says the default is {expected}, the agent uses {got}");
        }
    }

    private List<ConfigError> ReadSet(JsonNode doc)
    {
        string file = Path.Combine(_dir, "probe.json");
        File.WriteAllText(file, doc.ToJsonString());
        var errors = new List<ConfigError>();
        _ = ProgramSetConfigReader.ReadFile(file, _dir, errors);
        return errors;
    }

    private static JsonNode Load(string file) => JsonNode.Parse(File.ReadAllText(file))!;

    private static JsonObject At(JsonNode doc, string level)
    {
        JsonNode node = doc;
        foreach (string part in level.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            node = int.TryParse(part, out int i) ? node[i]! : node[part]!;
        }

        return node.AsObject();
    }

    /// <summary>A JSON pointer ("/a/b/0", "" for the root) into a schema.</summary>
    private static JsonObject Resolve(JsonNode schema, string pointer) => At(schema, pointer);

    private static IEnumerable<(string Path, JsonObject Schema)> Subschemas(JsonNode node, string path)
    {
        if (node is JsonObject o)
        {
            yield return (path, o);
            foreach ((string key, JsonNode? child) in o)
            {
                // Values, and the conditions of if/then/else/not, are not object definitions.
                if (child is not null && key is not ("enum" or "const" or "default" or "required" or "if" or "then" or "else" or "not"))
                {
                    foreach ((string, JsonObject) s in Subschemas(child, $"{path}/{key}"))
                    {
                        yield return s;
                    }
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (int i = 0; i < a.Count; i++)
            {
                foreach ((string, JsonObject) s in Subschemas(a[i]!, $"{path}/{i}"))
                {
                    yield return s;
                }
            }
        }
    }

    [GeneratedRegex("known keys here: (.+)$")]
    private static partial Regex KnownKeys();

    [GeneratedRegex("known settings: (.+)$")]
    private static partial Regex KnownSettings();

    /// <summary>
    /// A JSON Schema (2020-12) validator for exactly the keywords our schemas use; any other keyword fails loudly,
    /// so a schema cannot grow a rule this test silently ignores.
    /// </summary>
    private sealed class MiniSchema(JsonNode root)
    {
        private static readonly HashSet<string> s_annotations = ["$schema", "$id", "$comment", "$defs", "title", "description", "default"];

        public IReadOnlyList<string> Validate(JsonNode? instance)
        {
            var problems = new List<string>();
            Check(root, instance, "$", problems);
            return problems;
        }

        private bool Valid(JsonNode schema, JsonNode? instance)
        {
            var problems = new List<string>();
            Check(schema, instance, "$", problems);
            return problems.Count == 0;
        }

        private void Check(JsonNode schema, JsonNode? x, string at, List<string> problems)
        {
            if (schema is JsonValue b && b.GetValueKind() is JsonValueKind.True or JsonValueKind.False)
            {
                if (b.GetValueKind() == JsonValueKind.False)
                {
                    problems.Add($"{at}: not allowed");
                }

                return;
            }

            foreach ((string keyword, JsonNode? arg) in schema.AsObject())
            {
                switch (keyword)
                {
                    case var k when s_annotations.Contains(k):
                        break;
                    case "$ref":
                        string pointer = arg!.GetValue<string>();
                        Assert.StartsWith("#", pointer, StringComparison.Ordinal);
                        Check(Resolve(root, pointer[1..]), x, at, problems);
                        break;
                    case "type":
                        string[] types = arg is JsonArray ta ? [.. ta.Select(t => t!.GetValue<string>())] : [arg!.GetValue<string>()];
                        if (!types.Any(t => IsType(x, t)))
                        {
                            problems.Add($"{at}: must be {string.Join(" or ", types)}");
                        }

                        break;
                    case "enum":
                        if (!arg!.AsArray().Any(e => JsonNode.DeepEquals(e, x)))
                        {
                            problems.Add($"{at}: {x?.ToJsonString()} is not one of {arg.ToJsonString()}");
                        }

                        break;
                    case "const":
                        if (!JsonNode.DeepEquals(arg, x))
                        {
                            problems.Add($"{at}: must be {arg!.ToJsonString()}");
                        }

                        break;
                    case "properties" when x is JsonObject o:
                        foreach ((string name, JsonNode? sub) in arg!.AsObject())
                        {
                            if (o.TryGetPropertyValue(name, out JsonNode? v))
                            {
                                Check(sub!, v, $"{at}.{name}", problems);
                            }
                        }

                        break;
                    case "patternProperties" when x is JsonObject o:
                        foreach ((string pattern, JsonNode? sub) in arg!.AsObject())
                        {
                            foreach ((string name, JsonNode? v) in o.Where(p => Regex.IsMatch(p.Key, pattern)))
                            {
                                Check(sub!, v, $"{at}.{name}", problems);
                            }
                        }

                        break;
                    case "additionalProperties" when x is JsonObject o:
                        IEnumerable<string> named = schema["properties"]?.AsObject().Select(p => p.Key) ?? [];
                        IEnumerable<string> patterns = schema["patternProperties"]?.AsObject().Select(p => p.Key) ?? [];
                        foreach ((string name, JsonNode? v) in o)
                        {
                            if (!named.Contains(name) && !patterns.Any(p => Regex.IsMatch(name, p)))
                            {
                                Check(arg!, v, $"{at}.{name}", problems);
                            }
                        }

                        break;
                    case "required" when x is JsonObject o:
                        foreach (JsonNode? name in arg!.AsArray())
                        {
                            if (!o.ContainsKey(name!.GetValue<string>()))
                            {
                                problems.Add($"{at}: \"{name}\" is required");
                            }
                        }

                        break;
                    case "items" when x is JsonArray a:
                        for (int i = 0; i < a.Count; i++)
                        {
                            Check(arg!, a[i], $"{at}[{i}]", problems);
                        }

                        break;
                    case "minItems" when x is JsonArray a:
                        if (a.Count < arg!.GetValue<int>())
                        {
                            problems.Add($"{at}: fewer than {arg} items");
                        }

                        break;
                    case "maxItems" when x is JsonArray a:
                        if (a.Count > arg!.GetValue<int>())
                        {
                            problems.Add($"{at}: more than {arg} items");
                        }

                        break;
                    case "minLength" when x is JsonValue v && v.GetValueKind() == JsonValueKind.String:
                        if (v.GetValue<string>().Length < arg!.GetValue<int>())
                        {
                            problems.Add($"{at}: shorter than {arg}");
                        }

                        break;
                    case "pattern" when x is JsonValue v && v.GetValueKind() == JsonValueKind.String:
                        if (!Regex.IsMatch(v.GetValue<string>(), arg!.GetValue<string>()))
                        {
                            problems.Add($"{at}: does not match {arg}");
                        }

                        break;
                    case "minimum" when IsType(x, "number"):
                        if (x!.GetValue<double>() < arg!.GetValue<double>())
                        {
                            problems.Add($"{at}: below {arg}");
                        }

                        break;
                    case "maximum" when IsType(x, "number"):
                        if (x!.GetValue<double>() > arg!.GetValue<double>())
                        {
                            problems.Add($"{at}: above {arg}");
                        }

                        break;
                    case "exclusiveMinimum" when IsType(x, "number"):
                        if (x!.GetValue<double>() <= arg!.GetValue<double>())
                        {
                            problems.Add($"{at}: not above {arg}");
                        }

                        break;
                    case "not":
                        if (Valid(arg!, x))
                        {
                            problems.Add($"{at}: matches a forbidden form {arg!.ToJsonString()}");
                        }

                        break;
                    case "oneOf":
                        var branches = arg!.AsArray().Select(s => { var p = new List<string>(); Check(s!, x, at, p); return p; }).ToList();
                        int matches = branches.Count(p => p.Count == 0);
                        if (matches != 1)
                        {
                            problems.Add($"{at}: matches {matches} of the oneOf forms, not exactly one ({string.Join("; ", branches.SelectMany(p => p))})");
                        }

                        break;
                    case "allOf":
                        foreach (JsonNode? s in arg!.AsArray())
                        {
                            Check(s!, x, at, problems);
                        }

                        break;
                    case "if":
                        JsonNode? branch = Valid(arg!, x) ? schema["then"] : schema["else"];
                        if (branch is not null)
                        {
                            Check(branch, x, at, problems);
                        }

                        break;
                    case "then" or "else":
                        break;
                    case "properties" or "patternProperties" or "additionalProperties" or "required" or "items" or "minItems" or "maxItems"
                        or "minLength" or "pattern" or "minimum" or "maximum" or "exclusiveMinimum":
                        break; // applies to another type of instance
                    default:
                        Assert.Fail($"the schema uses \"{keyword}\", which this test's validator does not implement");
                        break;
                }
            }
        }

        private static bool IsType(JsonNode? x, string type) => (type, x?.GetValueKind() ?? JsonValueKind.Null) switch
        {
            ("object", JsonValueKind.Object) => true,
            ("array", JsonValueKind.Array) => true,
            ("string", JsonValueKind.String) => true,
            ("number", JsonValueKind.Number) => true,
            ("integer", JsonValueKind.Number) => x!.GetValue<double>() == Math.Floor(x.GetValue<double>()),
            ("boolean", JsonValueKind.True or JsonValueKind.False) => true,
            ("null", JsonValueKind.Null) => true,
            _ => false,
        };
    }
}
