namespace BpfAgent.Tests.EbpfExporter;

/// <summary>The test configs written in ebpf_exporter's format (tests/Agent.Tests/bpf/NAME.yaml) and their objects.</summary>
internal static class ExporterTestSets
{
    public static string Yaml(string name) => Path.Combine(Paths.Root, "tests", "Agent.Tests", "bpf", name + ".yaml");

    /// <summary>Puts NAME.yaml and NAME.bpf.o into programs.d, as ebpf_exporter lays them out; returns the YAML's path there.</summary>
    public static string Install(TestConfig config, string name)
    {
        string yaml = Path.Combine(config.ProgramsDirectory, name + ".yaml");
        File.Copy(Yaml(name), yaml);
        File.Copy(Paths.TestObject(name), Path.Combine(config.ProgramsDirectory, name + ".bpf.o"));
        return yaml;
    }
}
