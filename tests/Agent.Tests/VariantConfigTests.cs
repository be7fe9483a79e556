using BpfAgent.Configuration;
using Microsoft.Extensions.Configuration;

namespace BpfAgent.Tests;

/// <summary>The variants key and Agent:BtfPath as the readers see them (no kernel): values read back, mistakes named.</summary>
public sealed class VariantConfigTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bpf-agent-variants-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (ProgramSetConfig? Set, List<ConfigError> Errors) Read(string variants)
    {
        string file = Path.Combine(_dir, "set.json");
        File.WriteAllText(file, $$"""{ "object": "x.bpf.o", "variants": {{variants}} }""");
        var errors = new List<ConfigError>();
        return (ProgramSetConfigReader.ReadFile(file, _dir, errors), errors);
    }

    [Fact]
    public void Variants_read_back_in_order_with_their_requirements_in_words()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read("""
            [ { "name": "fast", "programs": [ "a", "b" ], "maps": [ "m" ], "requires": [ "task_storage", "kfunc:bpf_rdonly_cast", "type:inet_sock", "get_current_task_btf" ] },
              { "name": "slow", "programs": [ "c" ] } ]
            """);
        Assert.Empty(errors);
        Assert.Equal(["fast", "slow"], set!.Variants.Select(v => v.Name));
        VariantConfig fast = set.Variants[0];
        Assert.Equal(["a", "b"], fast.Programs);
        Assert.Equal(["m"], fast.Maps);
        Assert.Equal(
            ["task storage maps (Linux 5.11+)", "the bpf_rdonly_cast kfunc (Linux 6.2+)", "the kernel type 'inet_sock' in its BTF", "the bpf_get_current_task_btf helper (Linux 5.11+)"],
            fast.Requires.Select(r => r.Words));
        Assert.Equal([KernelRequirementKind.MapType, KernelRequirementKind.Kfunc, KernelRequirementKind.Type, KernelRequirementKind.Helper], fast.Requires.Select(r => r.Kind));
        Assert.Empty(set.Variants[1].Requires);
        Assert.Empty(set.Variants[1].Maps);
    }

    [Fact]
    public void Each_variant_mistake_is_an_error_naming_its_key_and_the_fix()
    {
        (ProgramSetConfig? set, List<ConfigError> errors) = Read("""
            [ { "name": "Fast!", "programs": [ "a" ], "requires": [ "task_storag", "kfunc:", "kfunc:a-b" ] },
              { "name": "slow", "programs": [] },
              { "name": "slow", "programs": [ "c" ], "colour": 1 } ]
            """);
        Assert.Null(set);
        Assert.Contains(errors, e => e.Key == "variants[0].name" && e.Problem.Contains("'Fast!'", StringComparison.Ordinal));
        ConfigError unknown = Assert.Single(errors, e => e.Key == "variants[0].requires[0]");
        Assert.Contains("'task_storag' is not a kernel feature", unknown.Problem, StringComparison.Ordinal);
        Assert.Contains("task_storage", unknown.Fix, StringComparison.Ordinal);
        Assert.Contains("kfunc:NAME", unknown.Fix, StringComparison.Ordinal);
        Assert.Contains(errors, e => e.Key == "variants[0].requires[1]");
        Assert.Contains(errors, e => e.Key == "variants[0].requires[2]");
        Assert.Contains(errors, e => e.Key == "variants[1].programs");
        Assert.Contains(errors, e => e.Key == "variants[2]" && e.Problem.Contains("'slow' is defined twice", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Key == "variants[2].colour");
        Assert.All(errors, e => Assert.EndsWith("set.json", e.File, StringComparison.Ordinal));
    }

    private static (AgentOptions Options, List<ConfigError> Errors) Options(string kernelBtf, string? btfPath)
    {
        var values = new Dictionary<string, string?>();
        if (btfPath is not null)
        {
            values["Agent:BtfPath"] = btfPath;
        }

        var errors = new List<ConfigError>();
        AgentOptions o = AgentOptions.Read(new ConfigurationBuilder().AddInMemoryCollection(values).Build(), "/etc/bpf-agent", "/etc/bpf-agent/agent.json", errors, kernelBtf);
        return (o, errors);
    }

    [Fact]
    public void Without_kernel_btf_and_without_BtfPath_the_agent_says_so_and_how_to_fix_it()
    {
        string noBtf = Path.Combine(_dir, "no-such-vmlinux");
        (_, List<ConfigError> errors) = Options(noBtf, null);
        ConfigError e = Assert.Single(errors);
        Assert.Equal("Agent.BtfPath", e.Key);
        Assert.Contains($"the kernel has no BTF at {noBtf}", e.Problem, StringComparison.Ordinal);
        Assert.Contains("CONFIG_DEBUG_INFO_BTF", e.Problem, StringComparison.Ordinal);
        Assert.Contains("set Agent:BtfPath", e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void BtfPath_is_taken_relative_to_the_config_directory_and_must_exist()
    {
        string kernel = Path.Combine(_dir, "vmlinux");
        File.WriteAllText(kernel, "");
        (AgentOptions o, List<ConfigError> errors) = Options(kernel, null);
        Assert.Empty(errors);
        Assert.Equal("", o.BtfPath);

        (o, errors) = Options(Path.Combine(_dir, "none"), kernel); // kernel BTF missing, but the file given exists
        Assert.Empty(errors);
        Assert.Equal(kernel, o.BtfPath);

        (o, errors) = Options(kernel, "btf/vmlinux-5.4");
        ConfigError e = Assert.Single(errors);
        Assert.Equal("Agent.BtfPath", e.Key);
        Assert.Equal("'/etc/bpf-agent/btf/vmlinux-5.4' does not exist", e.Problem);
        Assert.Equal("/etc/bpf-agent/btf/vmlinux-5.4", o.BtfPath);
    }
}
