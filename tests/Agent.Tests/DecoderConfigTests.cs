using BpfAgent.Configuration;
using BpfAgent.Decoding;

namespace BpfAgent.Tests;

/// <summary>Decoder chains in a program set's JSON: what is read, and every mistake named by file, key and fix.</summary>
public sealed class DecoderConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-decoder-config-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (ProgramSetConfig? Set, List<ConfigError> Errors) Read(string labels, string log = "")
    {
        string file = Path.Combine(_dir, "myset.json");
        File.WriteAllText(file, $$"""
            { "object": "x.bpf.o", "ringBuffers": [ { "map": "events", "struct": "event",
              "metrics": [ { "name": "a_total", "type": "counter", "labels": [ {{labels}} ] } ]{{log}} } ] }
            """);
        var errors = new List<ConfigError>();
        return (ProgramSetConfigReader.ReadFile(file, _dir, errors), errors);
    }

    private ConfigError Single(List<ConfigError> errors, string key, string inProblemOrFix)
    {
        ConfigError e = Assert.Single(errors);
        Assert.Equal(Path.Combine(_dir, "myset.json"), e.File);
        Assert.Equal(key, e.Key);
        Assert.False(string.IsNullOrWhiteSpace(e.Fix));
        Assert.Contains(inProblemOrFix, e.Problem + " " + e.Fix, StringComparison.Ordinal);
        return e;
    }

    [Fact]
    public void A_chain_reads_names_and_objects_with_their_parameters()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read("""
            { "field": "comm", "decoders": [ "string", { "name": "regexp", "regexps": ["^ssh", "^nginx"] } ] },
            { "name": "state", "field": "state", "decoders": [ "uint", { "name": "static_map", "static_map": { "1": "open" }, "allow_unknown": true } ] },
            { "name": "stack", "field": "stack_id", "decoders": [ { "name": "kstack", "stack_map": "stacks" } ] }
            """, """, "log": { "message": "{comm} {ret}", "decoders": { "ret": ["int", "errno"], "comm": "string" } }""");
        Assert.Empty(errors);
        IReadOnlyList<LabelConfig> labels = set!.RingBuffers[0].Metrics[0].Labels;
        Assert.Equal(["string", "regexp"], labels[0].Decoders.Select(d => d.Name));
        Assert.Equal(["^ssh", "^nginx"], labels[0].Decoders[1].Regexps);
        Assert.Equal(new Dictionary<string, string> { ["1"] = "open" }, labels[1].Decoders[1].StaticMap);
        Assert.True(labels[1].Decoders[1].AllowUnknown);
        Assert.Equal("stacks", labels[2].Decoders[0].StackMap);
        LogConfig log = set.RingBuffers[0].Log!;
        Assert.Equal(["int", "errno"], log.Decoders["ret"].Select(d => d.Name));
        Assert.Equal("string", Assert.Single(log.Decoders["comm"]).Name);
    }

    [Theory]
    [InlineData("""{ "field": "f", "decoders": [ "uint", "base64" ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[1]", "use one of: auto, cgroup")]
    [InlineData("""{ "field": "f", "decoders": [] }""", "ringBuffers[0].metrics[0].labels[0].decoders", "non-empty list")]
    [InlineData("""{ "field": "f", "decoders": [ 7 ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0]", "the number 7")]
    [InlineData("""{ "field": "f", "decoders": [ "regexp" ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0]", "\"regexps\"")]
    [InlineData("""{ "field": "f", "decoder": "static_map" }""", "ringBuffers[0].metrics[0].labels[0].decoder", "\"static_map\"")]
    [InlineData("""{ "field": "f", "decoders": [ { "name": "regexp", "regexps": ["(x"] } ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0].name", "does not compile")]
    [InlineData("""{ "field": "f", "decoders": [ { "name": "uint", "regexps": ["x"] } ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0].name", "takes no \"regexps\"")]
    [InlineData("""{ "field": "f", "decoders": [ { "name": "regexp", "regexp": ["x"] } ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0].regexp", "did you mean \"regexps\"?")]
    [InlineData("""{ "field": "f", "decoders": [ { "regexps": ["x"] } ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0].name", "is required")]
    [InlineData("""{ "field": "f", "decoders": [ { "name": "static_map", "static_map": { "1": 2 } } ] }""", "ringBuffers[0].metrics[0].labels[0].decoders[0].static_map.1", "must be a string")]
    [InlineData("""{ "field": "f", "decoder": "uint", "decoders": [ "uint" ] }""", "ringBuffers[0].metrics[0].labels[0].decoders", "keep one")]
    [InlineData("""{ "field": "f", "decoders": [ "uint", "map" ], "values": { "1": "a" } }""", "ringBuffers[0].metrics[0].labels[0].decoders[1]", "\"static_map\"")]
    public void A_bad_chain_is_named_by_its_key(string label, string key, string text)
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read(label);
        Assert.Null(set);
        Assert.All(errors, e => Assert.Equal(Path.Combine(_dir, "myset.json"), e.File));
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Fix)));
        Assert.Contains(errors, e => e.Key == key && (e.Problem + " " + e.Fix).Contains(text, StringComparison.Ordinal));
    }

    [Fact]
    public void A_log_placeholder_takes_a_name_or_a_chain_and_map_needs_its_table_there()
    {
        (_, List<ConfigError> errors) = Read("""{ "field": "f" }""", """, "log": { "message": "{f}", "decoders": { "f": "map" } }""");
        Single(errors, "ringBuffers[0].log.decoders.f", "static_map");
        (ProgramSetConfig? set, errors) = Read("""{ "field": "f" }""", """, "log": { "message": "{f}", "decoders": { "f": [ { "name": "map", "static_map": { "1": "one" } } ] } }""");
        Assert.Empty(errors);
        Assert.Equal("one", set!.RingBuffers[0].Log!.Decoders["f"][0].StaticMap!["1"]);
    }

    [Fact]
    public void The_registry_has_every_ebpf_exporter_decoder_and_bpf_agents_first_names()
    {
        string[] ebpfExporter = ["cgroup", "dname", "errno", "hex", "ifname", "inet_ip", "kstack", "ksym", "majorminor", "pci_class",
            "pci_device", "pci_subclass", "pci_vendor", "regexp", "static_map", "string", "syscall", "uint"];
        string[] first = ["auto", "string", "ipv4", "ipv6", "errno", "syscall", "ksym", "enum", "int", "uint", "map"];
        Assert.Subset(DecoderRegistry.Names.ToHashSet(), ebpfExporter.Concat(first).ToHashSet());
        Assert.DoesNotContain("regexp", DecoderRegistry.PlainNames);
        Assert.DoesNotContain("static_map", DecoderRegistry.PlainNames);
        Assert.Contains("kstack", DecoderRegistry.PlainNames); // stack_map is needed only on a stack-id field
        Assert.Null(DecoderRegistry.Create(new DecoderSpec("nope"), DecoderContext.Default, out string? error));
        Assert.Contains(DecoderRegistry.NameList, error, StringComparison.Ordinal);
    }
}
