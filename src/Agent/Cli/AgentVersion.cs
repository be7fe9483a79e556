using System.Reflection;
using System.Runtime.InteropServices;

namespace BpfAgent;

/// <summary>The agent's version (the assembly's informational version, with the commit when the build knows it).</summary>
public static class AgentVersion
{
    public static string Informational { get; } =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AgentVersion).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The kernel release and machine, as `uname -rm` prints them.</summary>
    public static string Kernel()
    {
        string release = Read("/proc/sys/kernel/osrelease");
        return $"Linux {release} {RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}";
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim();
        }
        catch (IOException)
        {
            return "unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
