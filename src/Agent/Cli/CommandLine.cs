namespace BpfAgent.Cli;

public enum Verb
{
    Run,
    Check,
    Inspect,
    Help,
}

/// <summary>
/// <c>bpf-agent [run] [--config-dir DIR] [host options]</c>, <c>bpf-agent check [--config-dir DIR]</c>,
/// <c>bpf-agent inspect OBJECT</c>. Other options (for example <c>--Agent:Listen=http://127.0.0.1:9500</c>)
/// go to the host's configuration.
/// </summary>
public sealed record CommandLine(Verb Verb, string ConfigDirectory, string? ObjectPath, string[] HostArgs, string? Error)
{
    public const string Usage = """
        usage: bpf-agent [run] [--config-dir DIR] [--Agent:Listen=URL] [--Agent:Key=Value ...]
               bpf-agent check [--config-dir DIR]     validate config, objects, BTF fields and attach; exit 78 on problems
               bpf-agent inspect OBJECT.bpf.o          print an object's programs, maps and BTF types
        The config directory defaults to $BPF_AGENT_CONFIG_DIR, then /etc/bpf-agent.
        """;

    public static CommandLine Parse(string[] args)
    {
        Verb verb = Verb.Run;
        string configDir = Environment.GetEnvironmentVariable("BPF_AGENT_CONFIG_DIR") ?? Configuration.AgentOptions.DefaultConfigDirectory;
        string? objectPath = null;
        var hostArgs = new List<string>();
        int i = 0;
        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            switch (args[0])
            {
                case "run":
                    verb = Verb.Run;
                    break;
                case "check":
                    verb = Verb.Check;
                    break;
                case "inspect":
                    verb = Verb.Inspect;
                    break;
                case "help":
                    verb = Verb.Help;
                    break;
                default:
                    return new CommandLine(Verb.Help, configDir, null, [], $"unknown command '{args[0]}'");
            }

            i = 1;
        }

        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (a is "-h" or "--help")
            {
                verb = Verb.Help;
            }
            else if (a == "--config-dir" || a == "-c")
            {
                if (i + 1 >= args.Length)
                {
                    return new CommandLine(Verb.Help, configDir, null, [], $"{a} needs a directory");
                }

                configDir = args[++i];
            }
            else if (a.StartsWith("--config-dir=", StringComparison.Ordinal))
            {
                configDir = a["--config-dir=".Length..];
            }
            else if (verb == Verb.Inspect && objectPath is null && !a.StartsWith('-'))
            {
                objectPath = a;
            }
            else
            {
                hostArgs.Add(a);
            }
        }

        if (verb == Verb.Inspect && objectPath is null)
        {
            return new CommandLine(Verb.Help, configDir, null, [], "inspect needs an object file");
        }

        return new CommandLine(verb, Path.GetFullPath(configDir), objectPath, [.. hostArgs], null);
    }
}
