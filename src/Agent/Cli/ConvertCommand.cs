using BpfAgent.Configuration;

namespace BpfAgent.Cli;

/// <summary>
/// <c>bpf-agent convert FILE.yaml</c>: prints the native program set (programs.d/&lt;set&gt;.json) equivalent to an
/// ebpf_exporter config, keys named by the object's BTF fields, so an operator can move over file by file.
/// </summary>
public static class ConvertCommand
{
    public static int Run(string file, TextWriter output, TextWriter error)
    {
        if (!file.EndsWith(Configuration.EbpfExporter.ExporterSetReader.Extension, StringComparison.Ordinal) || !File.Exists(file))
        {
            error.WriteLine($"bpf-agent convert: {file}: {(File.Exists(file) ? "is not an ebpf_exporter config (NAME.yaml)" : "no such file")}");
            return ExitCodes.Usage;
        }

        var errors = new List<ConfigError>();
        ProgramSetConfig? set = ProgramSetConfigReader.ReadYamlFile(Path.GetFullPath(file), errors);
        if (set is null)
        {
            foreach (ConfigError e in errors)
            {
                error.WriteLine($"error: {e}");
            }

            return ExitCodes.Config;
        }

        if (set.PerfCounters.Count > 0)
        {
            error.WriteLine($"error: {file}: {set.PerfCounters[0].Key}: perf_event_array counters have no native program-set form yet. Fix: keep this config as YAML (the agent runs it as it is)");
            return ExitCodes.Config;
        }

        output.Write(ProgramSetJsonWriter.Write(set));
        return ExitCodes.Ok;
    }
}
