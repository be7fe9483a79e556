using BpfAgent.Configuration;
using BpfAgent.Metrics.Exposition;

namespace BpfAgent.Tests.EbpfExporter;

/// <summary>
/// Every kind of bad ebpf_exporter config is refused with its file, the key (a path such as
/// metrics.histograms[0].bucket_type) and the fix: YAML syntax, unknown keys, wrong types, labels whose sizes and
/// paddings do not add up to the key, labels that cut a field in two, and the parts of the schema bpf-agent does
/// not run. No kernel needed: the object is only opened (parsed), never loaded.
/// </summary>
public sealed class ExporterConfigErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-yaml-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const string Counter = """
        metrics:
          counters:
            - name: compat_syscalls_total
              help: calls
              labels:
                - name: syscall
                  size: 4
                  decoders:
                    - name: uint
                - name: error
                  size: 4
                  decoders:
                    - name: uint
                - name: cgroup
                  size: 8
                  decoders:
                    - name: uint
        """;

    private const string Histogram = """
        metrics:
          histograms:
            - name: compat_exp2_seconds
              help: latency
              bucket_type: exp2
              bucket_min: 0
              bucket_max: 20
              labels:
                - name: kind
                  size: 4
                  decoders:
                    - name: uint
                - name: bucket
                  size: 4
                  decoders:
                    - name: uint
        """;

    private (ProgramSetConfig? Set, List<ConfigError> Errors, string File) Read(string yaml)
    {
        string file = Path.Combine(_dir, "exporter_compat.yaml");
        File.WriteAllText(file, yaml);
        string obj = Path.Combine(_dir, "exporter_compat.bpf.o");
        if (!File.Exists(obj))
        {
            File.Copy(Paths.TestObject("exporter_compat"), obj);
        }

        var errors = new List<ConfigError>();
        return (ProgramSetConfigReader.ReadYamlFile(file, errors), errors, file);
    }

    private ConfigError Single(string yaml, string key)
    {
        (ProgramSetConfig? set, List<ConfigError> errors, string file) = Read(yaml);
        Assert.Null(set);
        ConfigError e = Assert.Single(errors);
        Assert.Equal(file, e.File);
        Assert.Equal(key, e.Key);
        Assert.NotEmpty(e.Fix);
        return e;
    }

    [Fact]
    public void The_valid_configs_read_into_map_metrics_named_by_btf_fields()
    {
        (ProgramSetConfig? set, List<ConfigError> errors, _) = Read(Counter);
        Assert.Empty(errors);
        MapMetricConfig m = Assert.Single(Assert.Single(set!.Maps).Metrics);
        Assert.Equal("ebpf_exporter_compat_syscalls_total", m.Name);
        Assert.Equal(["nr", "err", "cgroup"], m.Labels.Select(l => l.Field));
        Assert.Equal(["syscall", "error", "cgroup"], m.Labels.Select(l => l.Name));

        (set, errors, _) = Read(Histogram);
        Assert.Empty(errors);
        m = Assert.Single(Assert.Single(set!.Maps).Metrics);
        Assert.Equal("bucket", m.Buckets!.Field);
        Assert.Equal(LeFormat.Go, m.Buckets.LeFormat);
        Assert.Equal(["kind"], m.Labels.Select(l => l.Field));
    }

    [Fact]
    public void A_yaml_syntax_error_names_its_line_and_column()
    {
        ConfigError e = Single("metrics:\n  counters:\n    - name: x\n   help: y\n", "line 4, column 4");
        Assert.Contains("invalid YAML", e.Problem, StringComparison.Ordinal);
        Assert.Contains("indentation", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_key_is_refused_with_the_closest_known_one()
    {
        ConfigError e = Single(Counter.Replace("      labels:", "      lables:", StringComparison.Ordinal), "metrics.counters[0].lables");
        Assert.Equal("is not a known key", e.Problem);
        Assert.Equal("did you mean \"labels\"?", e.Fix);
        Assert.Contains("exporter_compat.yaml: metrics.counters[0].lables: is not a known key. Fix: did you mean \"labels\"?", e.ToString(), StringComparison.Ordinal);

        e = Single(Counter.Replace("          size: 8", "          size: 8\n          paddng: 0", StringComparison.Ordinal), "metrics.counters[0].labels[2].paddng");
        Assert.Equal("did you mean \"padding\"?", e.Fix);
    }

    [Fact]
    public void A_wrong_type_is_refused_with_what_was_given()
    {
        ConfigError e = Single(Histogram.Replace("bucket_max: 20", "bucket_max: many", StringComparison.Ordinal), "metrics.histograms[0].bucket_max");
        Assert.Equal("must be a number, not the string \"many\"", e.Problem);

        e = Single(Counter.Replace("          size: 8", "          size: \"8\"", StringComparison.Ordinal), "metrics.counters[0].labels[2].size");
        Assert.Equal("must be a number, not the string \"8\"", e.Problem);

        e = Single("metrics:\n  counters:\n    - name: compat_events_total\n      help: calls\n      labels: none\n", "metrics.counters[0].labels");
        Assert.Contains("must be an array", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_whose_sizes_and_padding_miss_the_key_size_are_refused_with_the_key_layout()
    {
        ConfigError e = Single(Counter.Replace("          size: 8", "          size: 4", StringComparison.Ordinal), "metrics.counters[0].labels");
        Assert.Equal("the labels take 12 bytes (syscall 4 + error 4 + cgroup 4) but the key of map 'compat_syscalls_total' (syscall_key) is 16 bytes", e.Problem);
        Assert.Equal("make the sizes and paddings add up to 16: the key's fields are nr (bytes 0..3), err (bytes 4..7), cgroup (bytes 8..15)", e.Fix);

        e = Single(Counter.Replace("          size: 8", "          size: 4\n          padding: 8", StringComparison.Ordinal), "metrics.counters[0].labels");
        Assert.StartsWith("the labels take 20 bytes (syscall 4 + error 4 + cgroup 4+8)", e.Problem, StringComparison.Ordinal);

        // The sizes add up, but the first label cuts nr in two.
        string split = Counter.Replace("- name: syscall\n          size: 4\n", "- name: syscall\n          size: 2\n          padding: 2\n", StringComparison.Ordinal);
        e = Single(split, "metrics.counters[0].labels[0].size");
        Assert.Equal("bytes 0 to 1 of the key of map 'compat_syscalls_total' (syscall_key) are not one field", e.Problem);
    }

    [Fact]
    public void Metrics_must_name_a_map_of_the_object_and_a_histogram_a_known_bucket_type()
    {
        ConfigError e = Single(Counter.Replace("compat_syscalls_total", "compat_missing_total", StringComparison.Ordinal), "metrics.counters[0].name");
        Assert.StartsWith("the object has no map 'compat_missing_total'", e.Problem, StringComparison.Ordinal);
        Assert.Contains("compat_syscalls_total", e.Fix, StringComparison.Ordinal);

        e = Single(Histogram.Replace("bucket_type: exp2", "bucket_type: exp3", StringComparison.Ordinal), "metrics.histograms[0].bucket_type");
        Assert.Equal("use one of: exp2, exp2zero, linear, fixed", e.Fix);

        e = Single(Histogram.Replace("- name: bucket\n          size: 4\n          decoders:\n            - name: uint", "- name: bucket\n          size: 4\n          decoders:\n            - name: hex", StringComparison.Ordinal),
            "metrics.histograms[0].labels[1].decoders");
        Assert.Equal("give the bucket label the one decoder uint", e.Fix);

        e = Single(Counter.Replace("- name: uint\n        - name: error", "- name: unit\n        - name: error", StringComparison.Ordinal), "metrics.counters[0].labels[0].decoders[0].name");
        Assert.Contains("'unit' is not a decoder", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_parts_bpf_agent_does_not_run_are_refused_not_ignored()
    {
        Single(Counter + "\ntracing:\n  spans: []\n", "tracing");
        Single(Counter.Replace("      help: calls", "      help: calls\n      flush_interval: 1m", StringComparison.Ordinal), "metrics.counters[0].flush_interval");
        Single(Counter.Replace("      help: calls", "      help: calls\n      help2: calls", StringComparison.Ordinal), "metrics.counters[0].help2");
        ConfigError e = Single(Counter.Replace("      help: calls", "", StringComparison.Ordinal), "metrics.counters[0].help");
        Assert.Equal("is required", e.Problem);
    }

    [Theory]
    [InlineData(1e-06, "1e-06")]
    [InlineData(1.6e-05, "1.6e-05")]
    [InlineData(0.0001, "0.0001")]
    [InlineData(0.000128, "0.000128")]
    [InlineData(1, "1")]
    [InlineData(524288, "524288")]
    [InlineData(1048576, "1.048576e+06")]
    [InlineData(2.68435456e8, "2.68435456e+08")]
    [InlineData(0, "0")]
    [InlineData(1000, "1000")]
    [InlineData(0.5, "0.5")]
    [InlineData(123456.789, "123456.789")]
    [InlineData(-2.5e-7, "-2.5e-07")]
    [InlineData(1e21, "1e+21")]
    public void Go_float_text_matches_what_go_writes_for_le(double value, string go) => Assert.Equal(go, GoFloat.Format(value));
}
