namespace BpfAgent.Configuration;

/// <summary>
/// Where the kernel's BTF comes from: <c>/sys/kernel/btf/vmlinux</c>, or the file <c>Agent:BtfPath</c> names
/// (libbpf's btf_custom_path) on kernels built without CONFIG_DEBUG_INFO_BTF. Without either, no CO-RE object loads,
/// so that is a configuration error at startup rather than one failure per set.
/// </summary>
public static class KernelBtfPath
{
    public const string Sysfs = "/sys/kernel/btf/vmlinux";

    /// <summary>The configured path made absolute (relative to the config directory), or empty for the kernel's own.</summary>
    public static string Check(string? configured, string configDirectory, string kernelBtf, string agentFile, List<ConfigError> errors)
    {
        if (string.IsNullOrEmpty(configured))
        {
            if (!File.Exists(kernelBtf))
            {
                errors.Add(new ConfigError(agentFile, "Agent.BtfPath",
                    $"the kernel has no BTF at {kernelBtf} (it was built without CONFIG_DEBUG_INFO_BTF) and Agent:BtfPath is not set",
                    "set Agent:BtfPath to a BTF file for this exact kernel (for example from BTFHub, or made with 'pahole --btf_encode_detached' from its vmlinux)"));
            }

            return "";
        }

        string path = Path.GetFullPath(configured, configDirectory);
        if (!File.Exists(path))
        {
            errors.Add(new ConfigError(agentFile, "Agent.BtfPath", $"'{path}' does not exist",
                $"give the path of a BTF file for this kernel, or remove Agent:BtfPath to use {kernelBtf}"));
        }

        return path;
    }
}
