using System.Text.Json;
using Bpf;

namespace BpfAgent.Configuration.EbpfExporter;

/// <summary>
/// Reads an ebpf_exporter config (<c>&lt;name&gt;.yaml</c>, its object <c>&lt;name&gt;.bpf.o</c> beside it, as ebpf_exporter
/// lays them out) into the program set it means: YAML parsed, its schema checked, then its labels matched to the
/// fields of the object's BTF. Every problem is a <see cref="ConfigError"/> with file, key and fix.
/// </summary>
public static class ExporterSetReader
{
    public const string Extension = ".yaml";

    public static ProgramSetConfig? ReadFile(string file, string name, List<ConfigError> errors)
    {
        int before = errors.Count;
        using JsonDocument? doc = YamlDocument.Parse(file, errors);
        if (doc is null)
        {
            return null;
        }

        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            errors.Add(new ConfigError(file, "", "must be a YAML mapping", "write the ebpf_exporter config: metrics.counters and metrics.histograms"));
            return null;
        }

        ExporterConfig config = ExporterConfigReader.Read(name, file, new JsonSection(file, "", doc.RootElement, errors));
        if (errors.Count > before)
        {
            return null;
        }

        if (!File.Exists(config.ObjectPath))
        {
            errors.Add(new ConfigError(file, "", $"its object {config.ObjectPath} does not exist",
                $"put the compiled program beside the config as {name}.bpf.o, as ebpf_exporter expects"));
            return null;
        }

        OpenBpfObject open;
        try
        {
            open = OpenBpfObject.OpenFile(config.ObjectPath);
        }
        catch (BpfException e)
        {
            errors.Add(new ConfigError(file, "", $"its object {config.ObjectPath} cannot be opened: {e.Message}", "rebuild it with clang -g -target bpf"));
            return null;
        }

        using (open)
        {
            return ExporterTranslator.Translate(config, open, errors);
        }
    }
}
