using System.Text;

namespace BpfAgent.Cli;

public enum Verb
{
    Run,
    Check,
    Inspect,
    Convert,
    Pins,
    Version,
    Help,
}

/// <summary>
/// The parsed command line. Strict: an unknown verb, option or extra argument is an error (exit 64), never
/// ignored. Configuration overrides (<c>--Agent:Listen=URL</c>, <c>--Serilog:MinimumLevel:Default=Debug</c>) go
/// to the host's configuration as .NET hosts take them.
/// </summary>
public sealed record CommandLine(Verb Verb, string ConfigDirectory, string? ObjectPath, string[] HostArgs, string? Error)
{
    /// <summary>The sections an override may name; anything else would be read by no one.</summary>
    public static readonly string[] OverrideSections = ["Agent", "Serilog"];

    /// <summary>Every verb: its name, its arguments and what it does. The usage text is made from this table.</summary>
    internal static readonly VerbSpec[] Verbs =
    [
        new(Verb.Run, "run", "", "run the daemon (the default when no verb is given)"),
        new(Verb.Check, "check", "", "validate config and objects: open, load, attach, detach every set, bind the listen address"),
        new(Verb.Inspect, "inspect", "OBJECT.bpf.o", "print an object's programs, maps, globals and BTF types"),
        new(Verb.Convert, "convert", "NAME.yaml", "print the native program set (JSON) of an ebpf_exporter config, its NAME.bpf.o beside it"),
        new(Verb.Pins, "pins", "[list | remove SET | remove --all]", "list the agent's pins, or remove a set's (refused while an agent runs)"),
        new(Verb.Version, "version", "", "print the agent's version, the libbpf it loaded and the kernel"),
        new(Verb.Help, "help", "", "print this text"),
    ];

    /// <summary>Every option and the verbs that take it. The usage text is made from this table.</summary>
    internal static readonly OptionSpec[] Options =
    [
        new("--config-dir", "-c", "DIR", "config directory (default $BPF_AGENT_CONFIG_DIR, then /etc/bpf-agent)", [Verb.Run, Verb.Check, Verb.Pins]),
        new("--web.config.file", null, "FILE", "web config file: TLS, basic auth (exporter-toolkit format; the same as --Agent:WebConfigFile=FILE)", [Verb.Run, Verb.Check]),
        new("--Agent:Key=Value", null, null, "override a setting of agent.json, e.g. --Agent:Listen=http://127.0.0.1:9500 (also --Serilog:...)", [Verb.Run, Verb.Check, Verb.Pins]),
        new("--all", null, null, "with `pins remove`: every set's pins", [Verb.Pins]),
        new("--version", null, null, "the same as the `version` verb", [Verb.Run, Verb.Version]),
        new("--help", "-h", null, "print this text", [Verb.Run, Verb.Check, Verb.Inspect, Verb.Convert, Verb.Pins, Verb.Version, Verb.Help]),
    ];

    public static string Usage { get; } = BuildUsage();

    /// <summary>For <c>pins</c>: "list" or "remove".</summary>
    public string? PinsAction { get; init; }

    /// <summary>For <c>pins remove</c>: the set whose pins go, or null with <see cref="PinsAll"/>.</summary>
    public string? PinsSet { get; init; }

    public bool PinsAll { get; init; }

    public static CommandLine Parse(string[] args)
    {
        string configDir = Environment.GetEnvironmentVariable("BPF_AGENT_CONFIG_DIR") ?? Configuration.AgentOptions.DefaultConfigDirectory;
        Verb verb = Verb.Run;
        int i = 0;
        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            VerbSpec? spec = Verbs.FirstOrDefault(v => v.Name == args[0]);
            if (spec is null)
            {
                return Fail(configDir, $"unknown command '{args[0]}'{Suggest(args[0], Verbs.Select(v => v.Name))}");
            }

            verb = spec.Verb;
            i = 1;
        }

        var hostArgs = new List<string>();
        var positional = new List<string>();
        bool help = false, version = false, all = false;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            string name = a.Split('=', 2)[0];
            if (a is "-h" or "--help")
            {
                help = true;
            }
            else if (name is "--config-dir" or "-c")
            {
                if (!Takes(verb, "--config-dir"))
                {
                    return Fail(configDir, $"{VerbName(verb)} takes no {name}");
                }

                if (a.Contains('=', StringComparison.Ordinal))
                {
                    configDir = a[(name.Length + 1)..];
                }
                else if (i + 1 < args.Length)
                {
                    configDir = args[++i];
                }
                else
                {
                    return Fail(configDir, $"{a} needs a directory");
                }

                if (configDir.Length == 0)
                {
                    return Fail(configDir, $"{name} needs a directory");
                }
            }
            else if (name == "--web.config.file" && Takes(verb, name))
            {
                // exporter-toolkit's flag, as node_exporter and ebpf_exporter take it.
                string? file = a.Contains('=', StringComparison.Ordinal) ? a[(name.Length + 1)..] : i + 1 < args.Length ? args[++i] : null;
                if (string.IsNullOrEmpty(file))
                {
                    return Fail(configDir, $"{name} needs a file");
                }

                hostArgs.Add($"--Agent:WebConfigFile={file}");
            }
            else if (a == "--version" && Takes(verb, a))
            {
                version = true;
            }
            else if (a == "--all" && Takes(verb, a))
            {
                all = true;
            }
            else if (IsOverride(a))
            {
                if (!Takes(verb, "--Agent:Key=Value"))
                {
                    return Fail(configDir, $"{VerbName(verb)} takes no configuration override ({name})");
                }

                string section = a[2..].Split(':', 2)[0];
                if (!OverrideSections.Contains(section, StringComparer.OrdinalIgnoreCase))
                {
                    return Fail(configDir, $"unknown option '{name}': overrides name the Agent or Serilog section, as in --Agent:Listen=URL");
                }

                hostArgs.Add(a);
                if (!a.Contains('=', StringComparison.Ordinal))
                {
                    if (i + 1 >= args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        return Fail(configDir, $"{a} needs a value (write {a}=VALUE)");
                    }

                    hostArgs.Add(args[++i]);
                }
            }
            else if (a.StartsWith('-') && a.Length > 1)
            {
                IEnumerable<string> known = Options.Where(o => o.Verbs.Contains(verb) && !o.Name.Contains(':', StringComparison.Ordinal)).Select(o => o.Name);
                return Fail(configDir, $"unknown option '{name}' for {VerbName(verb)}{Suggest(name, known)}");
            }
            else
            {
                positional.Add(a);
            }
        }

        if (help)
        {
            return new CommandLine(Verb.Help, configDir, null, [], null);
        }

        if (version)
        {
            verb = Verb.Version;
        }

        string? objectPath = null, pinsAction = null, pinsSet = null;
        switch (verb)
        {
            case Verb.Inspect:
                if (positional.Count != 1)
                {
                    return Fail(configDir, positional.Count == 0 ? "inspect needs an object file" : $"inspect takes one object file, not also '{positional[1]}'");
                }

                objectPath = positional[0];
                break;
            case Verb.Convert:
                if (positional.Count != 1)
                {
                    return Fail(configDir, positional.Count == 0 ? "convert needs an ebpf_exporter config (NAME.yaml)" : $"convert takes one file, not also '{positional[1]}'");
                }

                objectPath = positional[0];
                break;
            case Verb.Pins:
                pinsAction = positional.Count == 0 ? "list" : positional[0];
                if (pinsAction == "list" && (positional.Count > 1 || all))
                {
                    return Fail(configDir, all ? "--all goes with `pins remove`" : $"pins list takes no argument, not '{positional[1]}'");
                }

                if (pinsAction == "remove")
                {
                    if (all == (positional.Count == 2) || positional.Count > 2)
                    {
                        return Fail(configDir, "pins remove needs one set name, or --all");
                    }

                    pinsSet = all ? null : positional[1];
                }
                else if (pinsAction != "list")
                {
                    return Fail(configDir, $"unknown pins action '{pinsAction}'{Suggest(pinsAction, ["list", "remove"])}: use list or remove");
                }

                break;
            default:
                if (positional.Count > 0)
                {
                    return Fail(configDir, $"unexpected argument '{positional[0]}' for {VerbName(verb)}");
                }

                if (all)
                {
                    return Fail(configDir, "--all goes with `pins remove`");
                }

                break;
        }

        return new CommandLine(verb, Path.GetFullPath(configDir), objectPath, [.. hostArgs], null)
        {
            PinsAction = pinsAction,
            PinsSet = pinsSet,
            PinsAll = all,
        };
    }

    /// <summary>
    /// <c>--Section:Key=Value</c> or <c>--Section:Key Value</c>: the shape .NET's command-line configuration reads.
    /// </summary>
    private static bool IsOverride(string a) =>
        a.StartsWith("--", StringComparison.Ordinal) && a.Length > 2 && char.IsLetter(a[2]) && a.Split('=', 2)[0].Contains(':', StringComparison.Ordinal);

    private static bool Takes(Verb verb, string option) => Options.Any(o => o.Name == option && o.Verbs.Contains(verb));

    private static string VerbName(Verb verb) => verb == Verb.Run ? "the daemon" : $"'{Verbs.First(v => v.Verb == verb).Name}'";

    private static string Suggest(string given, IEnumerable<string> candidates) =>
        Configuration.DidYouMean.Closest(given, candidates) is string close ? $" (did you mean '{close}'?)" : "";

    private static CommandLine Fail(string configDir, string error) => new(Verb.Help, configDir, null, [], error);

    private static string BuildUsage()
    {
        var s = new StringBuilder();
        s.AppendLine("usage: bpf-agent [VERB] [OPTIONS]");
        s.AppendLine();
        s.AppendLine("verbs:");
        foreach (VerbSpec v in Verbs)
        {
            s.AppendLine($"  {(v.Name + " " + v.Arguments).TrimEnd(),-44} {v.Summary}");
        }

        s.AppendLine();
        s.AppendLine("options:");
        foreach (OptionSpec o in Options)
        {
            string head = (o.Alias is null ? o.Name : $"{o.Alias}, {o.Name}") + (o.Value is null ? "" : " " + o.Value);
            string verbs = string.Join(", ", o.Verbs.Select(v => Verbs.First(x => x.Verb == v).Name));
            s.AppendLine($"  {head,-44} {o.Summary} [{verbs}]");
        }

        s.AppendLine();
        s.AppendLine("exit status: 0 ok, 1 failure, 64 bad command line, 77 missing capabilities, 78 configuration error");
        s.Append("docs: /usr/share/doc/bpf-agent/README.md and configuration.md, or README.md and docs/ in the source tree");
        return s.ToString();
    }
}

internal sealed record VerbSpec(Verb Verb, string Name, string Arguments, string Summary);

internal sealed record OptionSpec(string Name, string? Alias, string? Value, string Summary, Verb[] Verbs);
