using System.Net;
using System.Net.Sockets;

namespace BpfAgent.Tests;

/// <summary>
/// A throw-away config directory (agent.json + programs.d/) on a free loopback port, with its own pin root,
/// removed on dispose.
/// </summary>
public sealed class TestConfig : IDisposable
{
    public TestConfig(string? agentJson = null)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("bpf-agent-test-").FullName;
        System.IO.Directory.CreateDirectory(ProgramsDirectory);
        Port = FreePort();
        PinRoot = $"/sys/fs/bpf/bpf-agent-test-{Guid.NewGuid():N}";
        File.WriteAllText(Path.Combine(Directory, "agent.json"), agentJson ?? DefaultAgentJson(Port, PinRoot));
    }

    public string Directory { get; }

    public string ProgramsDirectory => Path.Combine(Directory, "programs.d");

    public int Port { get; }

    public string PinRoot { get; }

    public string Url => $"http://127.0.0.1:{Port}";

    public static string DefaultAgentJson(int port, string pinRoot) => $$"""
        {
          "Agent": {
            "Listen": "http://127.0.0.1:{{port}}",
            "PinRoot": "{{pinRoot}}",
            "KeepPinsOnExit": false
          },
          "Serilog": { "MinimumLevel": { "Default": "Information", "Override": { "Microsoft": "Warning" } } }
        }
        """;

    /// <summary>Writes programs.d/&lt;name&gt;.json.</summary>
    public string AddSet(string name, string json)
    {
        string file = Path.Combine(ProgramsDirectory, name + ".json");
        File.WriteAllText(file, json);
        return file;
    }

    public static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
            if (System.IO.Directory.Exists(PinRoot))
            {
                System.IO.Directory.Delete(PinRoot, recursive: true);
            }
        }
        catch (IOException)
        {
        }
    }
}
