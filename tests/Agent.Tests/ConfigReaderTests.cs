using BpfAgent.Configuration;
using Microsoft.Extensions.Configuration;

namespace BpfAgent.Tests;

/// <summary>
/// ProgramSetConfigReader, AgentOptions and AgentConfiguration on real files: every value of a valid set reads
/// back, and each kind of mistake is one ConfigError naming the file, the exact key and a fix.
/// </summary>
public sealed class ConfigReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string FullSet = """
        {
          "$schema": "../schema/program-set.schema.json",
          "$comment": "every key the reader knows",
          "object": "objects/full.bpf.o",
          "optional": true,
          "programs": [ "on_exec", "on_exit" ],
          "parameters": { "filter_pid": 42, "verbose": true, "name": "x", "ratio": 0.5 },
          "pinning": { "enabled": false, "replaceIncompatible": true },
          "dropAlarmRatio": 0.25,
          "ringBuffers": [
            {
              "map": "events",
              "struct": "event",
              "metrics": [
                {
                  "name": "events_total",
                  "type": "counter",
                  "help": "Events.",
                  "labels": [
                    { "name": "comm", "field": "comm", "decoder": "string" },
                    { "field": "inner.x", "decoder": "uint" },
                    { "name": "state", "field": "state", "decoder": "map", "values": { "1": "open", "-2": "closed" } },
                    { "name": "err", "field": "ret", "decoder": "errno" }
                  ],
                  "maxSeries": 50
                },
                {
                  "name": "latency_seconds",
                  "type": "histogram",
                  "field": "latency_ns",
                  "scale": 1e-9,
                  "buckets": [ 0.001, 0.01, 0.1, 1 ],
                  "labels": [ { "name": "syscall", "field": "nr", "decoder": "syscall" } ]
                },
                { "name": "queue_depth", "type": "Gauge", "field": "depth" }
              ],
              "log": {
                "level": "warning",
                "message": "exec {comm} ret={ret}",
                "ratePerSecond": 5,
                "decoders": { "ret": "errno", "saddr": "ipv4" }
              }
            },
            { "map": "other", "struct": "other_event" }
          ]
        }
        """;

    private string Write(string name, string json)
    {
        string file = Path.Combine(_dir, name);
        File.WriteAllText(file, json);
        return file;
    }

    private (ProgramSetConfig? Set, List<ConfigError> Errors) Read(string json, string name = "myset.json")
    {
        string file = Write(name, json);
        var errors = new List<ConfigError>();
        ProgramSetConfig? set = ProgramSetConfigReader.ReadFile(file, _dir, errors);
        return (set, errors);
    }

    /// <summary>A set with one ring whose first metric is <paramref name="metric"/> (JSON of one metric object).</summary>
    private static string SetWithMetrics(params string[] metrics) => $$"""
        { "object": "x.bpf.o", "ringBuffers": [ { "map": "events", "struct": "event", "metrics": [ {{string.Join(",", metrics)}} ] } ] }
        """;

    /// <summary>Exactly one error, at <paramref name="key"/> of myset.json, with a fix.</summary>
    private ConfigError Single(List<ConfigError> errors, string key)
    {
        ConfigError e = Assert.Single(errors);
        Assert.Equal(Path.Combine(_dir, "myset.json"), e.File);
        Assert.Equal(key, e.Key);
        Assert.False(string.IsNullOrWhiteSpace(e.Problem));
        Assert.False(string.IsNullOrWhiteSpace(e.Fix));
        Assert.Contains(key, e.ToString(), StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void A_valid_set_reads_back_every_value()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(FullSet, "full-set_1.json");
        Assert.Empty(errors);
        Assert.NotNull(set);

        Assert.Equal("full-set_1", set.Name);
        Assert.Equal(Path.Combine(_dir, "full-set_1.json"), set.File);
        Assert.Equal(Path.Combine(_dir, "objects", "full.bpf.o"), set.ObjectPath);
        Assert.True(set.Optional);
        Assert.Equal(["on_exec", "on_exit"], set.Programs);
        Assert.Equal(0.25, set.DropAlarmRatio);
        Assert.False(set.Pinning.Enabled);
        Assert.True(set.Pinning.ReplaceIncompatible);

        Assert.Equal(["filter_pid", "verbose", "name", "ratio"], set.Parameters.Select(p => p.Name));
        Assert.Equal(42, set.Parameters[0].Value.GetInt32());
        Assert.True(set.Parameters[1].Value.GetBoolean());
        Assert.Equal("x", set.Parameters[2].Value.GetString());
        Assert.Equal(0.5, set.Parameters[3].Value.GetDouble());
        Assert.Equal("parameters.filter_pid", set.Parameters[0].Key);

        Assert.Equal(2, set.RingBuffers.Count);
        RingConfig ring = set.RingBuffers[0];
        Assert.Equal("events", ring.Map);
        Assert.Equal("event", ring.Struct);
        Assert.Equal("ringBuffers[0]", ring.Key);
        Assert.Equal(3, ring.Metrics.Count);

        MetricConfig counter = ring.Metrics[0];
        Assert.Equal("events_total", counter.Name);
        Assert.Equal(MetricKind.Counter, counter.Kind);
        Assert.Equal("Events.", counter.Help);
        Assert.Null(counter.Field);
        Assert.Equal(1, counter.Scale);
        Assert.Null(counter.Buckets);
        Assert.Equal(50, counter.MaxSeries);
        Assert.Equal("ringBuffers[0].metrics[0]", counter.Key);
        Assert.Equal(["comm", "inner_x", "state", "err"], counter.Labels.Select(l => l.Name));
        Assert.Equal(["comm", "inner.x", "state", "ret"], counter.Labels.Select(l => l.Field));
        Assert.Equal(["string", "uint", "map", "errno"], counter.Labels.Select(l => Assert.Single(l.Decoders).Name));
        Assert.Equal("ringBuffers[0].metrics[0].labels[2]", counter.Labels[2].Key);
        Assert.Equal(new Dictionary<string, string> { ["1"] = "open", ["-2"] = "closed" }, counter.Labels[2].Decoders[0].StaticMap);
        Assert.Null(counter.Labels[0].Decoders[0].StaticMap);

        MetricConfig histogram = ring.Metrics[1];
        Assert.Equal(MetricKind.Histogram, histogram.Kind);
        Assert.Equal("latency_ns", histogram.Field);
        Assert.Equal(1e-9, histogram.Scale);
        Assert.Equal([0.001, 0.01, 0.1, 1], histogram.Buckets);
        Assert.Equal(1000, histogram.MaxSeries); // the default
        Assert.Equal("syscall", Assert.Single(Assert.Single(histogram.Labels).Decoders).Name);

        MetricConfig gauge = ring.Metrics[2];
        Assert.Equal(MetricKind.Gauge, gauge.Kind); // enum values are case-insensitive
        Assert.Equal("depth", gauge.Field);
        Assert.Empty(gauge.Labels);

        LogConfig log = ring.Log!;
        Assert.Equal("ringBuffers[0].log", log.Key);
        Assert.Equal(Serilog.Events.LogEventLevel.Warning, log.Level);
        Assert.Equal("exec {comm} ret={ret}", log.Message);
        Assert.Equal(5, log.RatePerSecond);
        Assert.Equal(["ret", "saddr"], log.Decoders.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("errno", Assert.Single(log.Decoders["ret"]).Name);
        Assert.Equal("ipv4", Assert.Single(log.Decoders["saddr"]).Name);

        RingConfig other = set.RingBuffers[1];
        Assert.Equal("other", other.Map);
        Assert.Empty(other.Metrics);
        Assert.Null(other.Log);
    }

    [Fact]
    public void Defaults_apply_when_keys_are_left_out()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read("""{ "object": "/abs/x.bpf.o" }""");
        Assert.Empty(errors);
        Assert.Equal("/abs/x.bpf.o", set!.ObjectPath);
        Assert.False(set.Optional);
        Assert.Null(set.Programs);
        Assert.Empty(set.Parameters);
        Assert.True(set.Pinning.Enabled);
        Assert.False(set.Pinning.ReplaceIncompatible);
        Assert.Empty(set.RingBuffers);
        Assert.Null(set.DropAlarmRatio);
    }

    [Fact]
    public void An_unknown_key_with_a_case_mismatch_suggests_the_right_one()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "Help": "x" }"""));
        Assert.Null(set);
        ConfigError e = Single(errors, "ringBuffers[0].metrics[0].Help");
        Assert.Contains("did you mean \"help\"", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_lists_the_known_ones()
    {
        (_, List<ConfigError> errors) = Read("""{ "object": "x.bpf.o", "pinning": { "enabled": true, "keep": true } }""");
        ConfigError e = Single(errors, "pinning.keep");
        Assert.Contains("enabled", e.Fix, StringComparison.Ordinal);
        Assert.Contains("replaceIncompatible", e.Fix, StringComparison.Ordinal);

        (_, errors) = Read("""{ "object": "x.bpf.o", "Object": "y.bpf.o" }""");
        Assert.Contains("did you mean \"object\"", Single(errors, "Object").Fix, StringComparison.Ordinal);

        (_, errors) = Read("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "rate": 1 } } ] }""");
        Single(errors, "ringBuffers[0].log.rate");

        (_, errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decodr": "uint" } ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].labels[0].decodr");
    }

    [Theory]
    [InlineData("""{ "object": 5 }""", "object")]
    [InlineData("""{ "object": "" }""", "object")]
    [InlineData("""{ "object": "x.bpf.o", "optional": "yes" }""", "optional")]
    [InlineData("""{ "object": "x.bpf.o", "programs": "on_exec" }""", "programs")]
    [InlineData("""{ "object": "x.bpf.o", "programs": [ 1 ] }""", "programs")]
    [InlineData("""{ "object": "x.bpf.o", "parameters": [ 1 ] }""", "parameters")]
    [InlineData("""{ "object": "x.bpf.o", "parameters": { "pid": [ 1 ] } }""", "parameters.pid")]
    [InlineData("""{ "object": "x.bpf.o", "pinning": true }""", "pinning")]
    [InlineData("""{ "object": "x.bpf.o", "pinning": { "enabled": 1 } }""", "pinning.enabled")]
    [InlineData("""{ "object": "x.bpf.o", "dropAlarmRatio": "0.1" }""", "dropAlarmRatio")]
    [InlineData("""{ "object": "x.bpf.o", "dropAlarmRatio": 2 }""", "dropAlarmRatio")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": { "map": "m" } }""", "ringBuffers")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ "events" ] }""", "ringBuffers[0]")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": 1, "struct": "s" } ] }""", "ringBuffers[0].map")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": "info" } ] }""", "ringBuffers[0].log")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "ratePerSecond": "5" } } ] }""", "ringBuffers[0].log.ratePerSecond")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "decoders": { "a": 1 } } } ] }""", "ringBuffers[0].log.decoders.a")]
    [InlineData("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "decoders": { "a": "map" } } } ] }""", "ringBuffers[0].log.decoders.a")]
    public void A_value_of_the_wrong_type_is_named_by_its_key(string json, string key)
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(json);
        Assert.Null(set);
        Single(errors, key);
    }

    [Theory]
    [InlineData("""{ "name": "a_total", "type": "counter", "maxSeries": "10" }""", "ringBuffers[0].metrics[0].maxSeries")]
    [InlineData("""{ "name": "a_total", "type": "counter", "maxSeries": 1.5 }""", "ringBuffers[0].metrics[0].maxSeries")]
    [InlineData("""{ "name": "a_total", "type": "counter", "maxSeries": 0 }""", "ringBuffers[0].metrics[0].maxSeries")]
    [InlineData("""{ "name": "a_total", "type": "counter", "scale": true }""", "ringBuffers[0].metrics[0].scale")]
    [InlineData("""{ "name": "a_total", "type": "counter", "labels": { "field": "f" } }""", "ringBuffers[0].metrics[0].labels")]
    [InlineData("""{ "name": "a_total", "type": "counter", "labels": [ { "name": "x" } ] }""", "ringBuffers[0].metrics[0].labels[0].field")]
    [InlineData("""{ "name": 7, "type": "counter" }""", "ringBuffers[0].metrics[0].name")]
    [InlineData("""{ "type": "counter" }""", "ringBuffers[0].metrics[0].name")]
    [InlineData("""{ "name": "a_total" }""", "ringBuffers[0].metrics[0].type")]
    [InlineData("""{ "name": "a", "type": "gauge" }""", "ringBuffers[0].metrics[0].field")]
    public void A_bad_metric_value_is_named_by_its_key(string metric, string key)
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(SetWithMetrics(metric));
        Assert.Null(set);
        Single(errors, key);
    }

    [Theory]
    [InlineData("""{ "name": "a_total", "type": "summary" }""", "ringBuffers[0].metrics[0].type", "counter, histogram, gauge")]
    [InlineData("""{ "name": "a_total", "type": "1" }""", "ringBuffers[0].metrics[0].type", "counter")]
    [InlineData("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decoder": "hexadecimal" } ] }""", "ringBuffers[0].metrics[0].labels[0].decoder", "ipv6")]
    public void A_bad_enum_value_lists_the_valid_ones(string metric, string key, string inFix)
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics(metric));
        Assert.Contains(inFix, Single(errors, key).Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void The_key_of_a_bad_decoder_is_the_full_path()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics(
            """{ "name": "a_total", "type": "counter" }""",
            """{ "name": "b_total", "type": "counter", "labels": [ { "field": "f", "decoder": "base64" } ] }"""));
        Single(errors, "ringBuffers[0].metrics[1].labels[0].decoder");

        (_, errors) = Read("""{ "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "log": { "message": "m", "level": "loud" } } ] }""");
        Assert.Contains("warning", Single(errors, "ringBuffers[0].log.level").Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exec-total")]
    [InlineData("1st_total")]
    [InlineData("exec total")]
    [InlineData("exec.total")]
    public void An_invalid_metric_name_is_refused(string name)
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics($$"""{ "name": "{{name}}", "type": "counter" }"""));
        Assert.Contains(name, Single(errors, "ringBuffers[0].metrics[0].name").Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1abc")]
    [InlineData("__reserved")]
    [InlineData("with-dash")]
    public void An_invalid_label_name_is_refused(string name)
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics($$"""{ "name": "a_total", "type": "counter", "labels": [ { "name": "{{name}}", "field": "f" } ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].labels[0].name");
    }

    [Fact]
    public void The_agents_own_prefix_is_reserved()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics("""{ "name": "bpf_agent_events_total", "type": "counter" }"""));
        ConfigError e = Single(errors, "ringBuffers[0].metrics[0].name");
        Assert.Contains("bpf_agent_", e.Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[ 1, 0.5 ]")]
    [InlineData("[ 0.1, 0.1 ]")]
    [InlineData("[]")]
    [InlineData("[ 0.1, \"1\" ]")]
    [InlineData("\"exp2\"")]
    [InlineData("{ \"exp2\": { \"min\": 1, \"max\": 0.5 } }")]
    [InlineData("{ \"exp2\": { \"min\": 0, \"max\": 1 } }")]
    [InlineData("{ \"exp2\": { \"min\": 0.1 } }")]
    [InlineData("{ \"exp3\": { \"min\": 0.1, \"max\": 1 } }")]
    public void Buckets_must_be_ascending_numbers_or_a_valid_exp2(string buckets)
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics($$"""{ "name": "a_seconds", "type": "histogram", "field": "f", "buckets": {{buckets}} }"""));
        Assert.NotEmpty(errors);
        Assert.All(errors, e =>
        {
            Assert.StartsWith("ringBuffers[0].metrics[0].buckets", e.Key, StringComparison.Ordinal);
            Assert.False(string.IsNullOrWhiteSpace(e.Fix));
        });
    }

    [Fact]
    public void Only_histograms_take_buckets()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "buckets": [ 1, 2 ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].buckets");
    }

    [Fact]
    public void Exp2_buckets_expand_to_powers_of_two_from_min_until_max_is_covered()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(SetWithMetrics(
            """{ "name": "a_seconds", "type": "histogram", "field": "f", "buckets": { "exp2": { "min": 0.000001, "max": 1 } } }"""));
        Assert.Empty(errors);
        IReadOnlyList<double> b = set!.RingBuffers[0].Metrics[0].Buckets!;

        // 1e-6 * 2^20 = 1.048576 is the first bound >= 1.
        Assert.Equal(21, b.Count);
        for (int i = 0; i < b.Count; i++)
        {
            Assert.Equal(1e-6 * Math.Pow(2, i), b[i], 1e-15);
        }

        Assert.True(b[^1] >= 1);
        Assert.True(b[^2] < 1);

        // A max that is itself a power of two from min ends exactly there.
        (set, errors) = Read(SetWithMetrics(
            """{ "name": "a_seconds", "type": "histogram", "field": "f", "buckets": { "exp2": { "min": 1, "max": 8 } } }"""));
        Assert.Empty(errors);
        Assert.Equal([1.0, 2, 4, 8], set!.RingBuffers[0].Metrics[0].Buckets);
    }

    [Fact]
    public void The_map_decoder_needs_values_and_only_it_takes_them()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decoder": "map" } ] }"""));
        Assert.Contains("\"values\"", Single(errors, "ringBuffers[0].metrics[0].labels[0].values").Fix, StringComparison.Ordinal);

        (_, errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decoder": "uint", "values": { "1": "a" } } ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].labels[0].values");

        (_, errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decoder": "map", "values": { "one": "a" } } ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].labels[0].values.one");

        (_, errors) = Read(SetWithMetrics("""{ "name": "a_total", "type": "counter", "labels": [ { "field": "f", "decoder": "map", "values": { "1": 2 } } ] }"""));
        Single(errors, "ringBuffers[0].metrics[0].labels[0].values.1");
    }

    [Fact]
    public void More_than_four_labels_are_refused()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics("""
            { "name": "a_total", "type": "counter", "labels": [
              { "field": "a" }, { "field": "b" }, { "field": "c" }, { "field": "d" }, { "field": "e" } ] }
            """));
        ConfigError e = Single(errors, "ringBuffers[0].metrics[0].labels");
        Assert.Contains("5", e.Problem, StringComparison.Ordinal);
        Assert.Contains("4", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_label_name_may_not_repeat()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics("""
            { "name": "a_total", "type": "counter", "labels": [ { "field": "a" }, { "name": "a", "field": "b" } ] }
            """));
        Single(errors, "ringBuffers[0].metrics[0].labels");
    }

    [Fact]
    public void A_metric_name_may_not_repeat_within_a_set()
    {
        (_, List<ConfigError> errors) = Read(SetWithMetrics(
            """{ "name": "a_total", "type": "counter" }""",
            """{ "name": "a_total", "type": "counter" }"""));
        Assert.Contains("a_total", Single(errors, "ringBuffers[0].metrics[1]").Problem, StringComparison.Ordinal);

        // Across two rings of the same set too; and a ring buffer map may be listed only once.
        (_, errors) = Read("""
            { "object": "x.bpf.o", "ringBuffers": [
              { "map": "m1", "struct": "s", "metrics": [ { "name": "a_total", "type": "counter" } ] },
              { "map": "m2", "struct": "s", "metrics": [ { "name": "a_total", "type": "counter" } ] },
              { "map": "m2", "struct": "s" } ] }
            """);
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.Key == "ringBuffers[1].metrics[0]");
        Assert.Contains(errors, e => e.Key == "ringBuffers" && e.Problem.Contains("m2", StringComparison.Ordinal));
    }

    [Fact]
    public void Invalid_json_names_the_line()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read("{\n  \"object\": \"x.bpf.o\",\n  \"optional\": tru\n}\n");
        Assert.Null(set);
        ConfigError e = Single(errors, "line 3, column 18");
        Assert.Contains("invalid JSON", e.Problem, StringComparison.Ordinal);

        (_, errors) = Read("[ 1, 2 ]");
        Single(errors, "");
    }

    [Fact]
    public void Every_problem_of_a_file_is_listed_in_one_pass()
    {
        (_, List<ConfigError> errors) = Read("""
            { "object": "x.bpf.o", "optional": 1, "extra": 2,
              "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "bpf_agent_x", "type": "timer" } ] } ] }
            """);
        Assert.Equal(["extra", "optional", "ringBuffers[0].metrics[0].name", "ringBuffers[0].metrics[0].type"], errors.Select(e => e.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("My Set.json")]
    [InlineData("1set.json")]
    [InlineData("Upper.json")]
    [InlineData("dots.in.name.json")]
    public void A_bad_set_file_name_is_refused(string fileName)
    {
        string file = Write(fileName, """{ "object": "x.bpf.o" }""");
        var errors = new List<ConfigError>();
        Assert.Null(ProgramSetConfigReader.ReadFile(file, _dir, errors));
        ConfigError e = Assert.Single(errors);
        Assert.Equal(file, e.File);
        Assert.Equal("", e.Key);
        Assert.Contains("rename", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadDirectory_reads_every_json_in_order_and_reports_a_missing_directory()
    {
        Write("b.json", """{ "object": "b.bpf.o" }""");
        Write("a.json", """{ "object": "a.bpf.o" }""");
        Write("c.json", """{ "object": 1 }""");
        Write("notes.txt", "not a set");
        (IReadOnlyList<ProgramSetConfig> sets, IReadOnlyList<ConfigError> errors) = ProgramSetConfigReader.ReadDirectory(_dir, _dir);
        Assert.Equal(["a", "b"], sets.Select(s => s.Name));
        Assert.Equal(Path.Combine(_dir, "c.json"), Assert.Single(errors).File);

        string missing = Path.Combine(_dir, "nope");
        (sets, errors) = ProgramSetConfigReader.ReadDirectory(missing, _dir);
        Assert.Empty(sets);
        Assert.Equal(missing, Assert.Single(errors).File);
    }

    // ---- AgentOptions ----

    private static (AgentOptions Options, List<ConfigError> Errors) Options(params (string Key, string Value)[] settings)
    {
        IConfiguration c = new ConfigurationBuilder()
            .AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)))
            .Build();
        var errors = new List<ConfigError>();
        AgentOptions o = AgentOptions.Read(c, "/etc/bpf-agent", "/etc/bpf-agent/agent.json", errors);
        return (o, errors);
    }

    private static ConfigError SingleAgentError(List<ConfigError> errors, string key)
    {
        ConfigError e = Assert.Single(errors);
        Assert.Equal("/etc/bpf-agent/agent.json", e.File);
        Assert.Equal(key, e.Key);
        Assert.False(string.IsNullOrWhiteSpace(e.Fix));
        return e;
    }

    [Fact]
    public void Agent_options_default_and_read_back()
    {
        (AgentOptions o, List<ConfigError> errors) = Options();
        Assert.Empty(errors);
        Assert.Equal(AgentOptions.DefaultListen, o.Listen);
        Assert.Equal(AgentOptions.DefaultPinRoot, o.PinRoot);
        Assert.Equal("/etc/bpf-agent/programs.d", o.ProgramsPath);

        (o, errors) = Options(("Agent:Listen", "http://0.0.0.0:9999"), ("Agent:PinRoot", "/sys/fs/bpf/other"), ("Agent:ProgramsDirectory", "/srv/sets"),
            ("Agent:KeepPinsOnExit", "false"), ("Agent:ChannelCapacity", "16"), ("Agent:ChannelFullWaitMs", "3"), ("Agent:BatchBytes", "8192"), ("Agent:PollTimeoutMs", "20"),
            ("Agent:EnableRunTimeStats", "False"), ("Agent:LibbpfLogLinesPerSecond", "7"), ("Agent:ShutdownTimeoutSeconds", "9"));
        Assert.Empty(errors);
        Assert.Equal("http://0.0.0.0:9999", o.Listen);
        Assert.Equal("/sys/fs/bpf/other", o.PinRoot);
        Assert.Equal("/srv/sets", o.ProgramsPath);
        Assert.False(o.KeepPinsOnExit);
        Assert.Equal(16, o.ChannelCapacity);
        Assert.Equal(3, o.ChannelFullWaitMs);
        Assert.Equal(8192, o.BatchBytes);
        Assert.Equal(20, o.PollTimeoutMs);
        Assert.False(o.EnableRunTimeStats);
        Assert.Equal(7, o.LibbpfLogLinesPerSecond);
        Assert.Equal(9, o.ShutdownTimeoutSeconds);

        // The pin root is used normalised.
        (o, errors) = Options(("Agent:PinRoot", "/sys/fs/bpf/a/../bpf-agent/"));
        Assert.Empty(errors);
        Assert.Equal("/sys/fs/bpf/bpf-agent", o.PinRoot);
    }

    [Fact]
    public void An_unknown_agent_setting_is_an_error()
    {
        (_, List<ConfigError> errors) = Options(("Agent:Lisen", "http://127.0.0.1:1"));
        Assert.Contains("Listen", SingleAgentError(errors, "Agent.Lisen").Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ChannelCapacity", "lots")]
    [InlineData("ChannelCapacity", "1")]
    [InlineData("ChannelFullWaitMs", "-1")]
    [InlineData("BatchBytes", "64k")]
    [InlineData("PollTimeoutMs", "2.5")]
    [InlineData("PollTimeoutMs", "100000")]
    [InlineData("LibbpfLogLinesPerSecond", "-1")]
    [InlineData("ShutdownTimeoutSeconds", "soon")]
    [InlineData("KeepPinsOnExit", "yes")]
    [InlineData("EnableRunTimeStats", "1")]
    public void A_non_numeric_or_out_of_range_agent_value_is_an_error(string key, string value)
    {
        (_, List<ConfigError> errors) = Options(($"Agent:{key}", value));
        Assert.Contains(value, SingleAgentError(errors, $"Agent.{key}").Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1:9435")]
    [InlineData("127.0.0.1:9435")]
    [InlineData("9435")]
    public void Listen_must_be_an_http_url(string listen) // or https:// with TLS in the web config: WebConfigTests
    {
        (_, List<ConfigError> errors) = Options(("Agent:Listen", listen));
        Assert.Contains("http://", SingleAgentError(errors, "Agent.Listen").Fix, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/tmp/pins")]
    [InlineData("/sys/fs/bpfx/pins")]
    [InlineData("pins")]
    [InlineData("/sys/fs/bpf/../../../tmp/pins")]
    [InlineData("/sys/fs/bpf/..")]
    public void PinRoot_must_be_under_sys_fs_bpf(string pinRoot)
    {
        (_, List<ConfigError> errors) = Options(("Agent:PinRoot", pinRoot));
        Assert.Contains("/sys/fs/bpf", SingleAgentError(errors, "Agent.PinRoot").Fix, StringComparison.Ordinal);
    }

    // ---- AgentConfiguration ----

    [Fact]
    public void The_shipped_config_loads_without_errors()
    {
        AgentConfiguration c = AgentConfiguration.Load(Paths.ShippedConfig, []);
        Assert.True(c.Errors.Count == 0, string.Join(Environment.NewLine, c.Errors));
        Assert.Equal(["biolatency", "exec", "runqlat", "syscall_latency", "tcp_state"], c.Sets.Select(s => s.Name));
        Assert.All(c.Sets, s => Assert.True(s.RingBuffers.Count + s.Maps.Count > 0, $"{s.Name} reads nothing"));
        Assert.All(c.Sets.Where(s => s.Name is "biolatency" or "runqlat" or "syscall_latency"), s => Assert.NotEmpty(s.Maps));
        Assert.Equal(AgentOptions.DefaultListen, c.Options.Listen);
    }

    [Fact]
    public void A_metric_name_defined_by_two_sets_is_an_error()
    {
        string programs = Path.Combine(_dir, "programs.d");
        Directory.CreateDirectory(programs);
        Write("agent.json", """{ "Agent": { "PinRoot": "/sys/fs/bpf/bpf-agent-test" } }""");
        const string set = """
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "m", "struct": "s", "metrics": [ { "name": "shared_total", "type": "counter" } ] } ] }
            """;
        File.WriteAllText(Path.Combine(programs, "alpha.json"), set);
        File.WriteAllText(Path.Combine(programs, "beta.json"), set);

        AgentConfiguration c = AgentConfiguration.Load(_dir, []);
        ConfigError e = Assert.Single(c.Errors);
        Assert.Equal(Path.Combine(programs, "beta.json"), e.File);
        Assert.Equal("ringBuffers[0].metrics[0].name", e.Key);
        Assert.Contains("alpha", e.Problem, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(e.Fix));
    }

    [Fact]
    public void Invalid_agent_json_and_a_missing_directory_are_errors()
    {
        Write("agent.json", "{ \"Agent\": { ");
        AgentConfiguration c = AgentConfiguration.Load(_dir, []);
        Assert.Contains(c.Errors, e => e.File == Path.Combine(_dir, "agent.json") && e.Problem.Contains("JSON", StringComparison.Ordinal));

        string missing = Path.Combine(_dir, "missing");
        c = AgentConfiguration.Load(missing, []);
        Assert.Contains(c.Errors, e => e.File == missing);
    }

    [Fact]
    public void Command_line_overrides_agent_json_and_is_checked_the_same_way()
    {
        Directory.CreateDirectory(Path.Combine(_dir, "programs.d"));
        Write("agent.json", """{ "Agent": { "Listen": "http://127.0.0.1:1" } }""");
        AgentConfiguration c = AgentConfiguration.Load(_dir, ["--Agent:Listen=http://127.0.0.1:2"]);
        Assert.Empty(c.Errors);
        Assert.Equal("http://127.0.0.1:2", c.Options.Listen);

        // Blamed on the command line, where the operator has to change it, not on agent.json.
        c = AgentConfiguration.Load(_dir, ["--Agent:PollTimeoutMs=never"]);
        ConfigError e = Assert.Single(c.Errors);
        Assert.Equal(("command line", "--Agent:PollTimeoutMs"), (e.File, e.Key));
    }
}
