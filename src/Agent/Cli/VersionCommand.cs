using Bpf;

namespace BpfAgent.Cli;

/// <summary><c>bpf-agent version</c> (or <c>--version</c>): the agent, the libbpf it loaded, .NET and the kernel.</summary>
public static class VersionCommand
{
    public static int Run(TextWriter output)
    {
        string libbpf;
        try
        {
            libbpf = $"{Libbpf.VersionString} ({LoadedFrom("libbpf.so")})";
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            libbpf = $"not loadable ({e.Message.Split('\n')[0]})";
        }

        output.WriteLine($"bpf-agent {AgentVersion.Informational}");
        output.WriteLine($"libbpf {libbpf}");
        output.WriteLine($".NET {Environment.Version}");
        output.WriteLine($"kernel {AgentVersion.Kernel()}");
        return libbpf.StartsWith("not", StringComparison.Ordinal) ? Configuration.ExitCodes.Failure : Configuration.ExitCodes.Ok;
    }

    /// <summary>The file a shared library was mapped from, as /proc/self/maps shows it.</summary>
    private static string LoadedFrom(string library)
    {
        foreach (string line in File.ReadLines("/proc/self/maps"))
        {
            int slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash >= 0 && Path.GetFileName(line[slash..]).StartsWith(library, StringComparison.Ordinal))
            {
                return line[slash..];
            }
        }

        return "path unknown";
    }
}
