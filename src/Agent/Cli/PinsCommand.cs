using System.Text.RegularExpressions;
using Bpf;
using BpfAgent.Configuration;
using BpfAgent.ProgramSets;
using BpfAgent.Security;

namespace BpfAgent.Cli;

/// <summary>
/// <c>bpf-agent pins [list]</c>: what is pinned under the pin root, set by set (each map's name, schema hash, type,
/// sizes and charged memory); <c>pins remove SET</c> or <c>pins remove --all</c>: unpins a set's maps (their state
/// is lost). Removing takes the pin root's instance lock first, so it is refused while an agent runs there.
/// </summary>
public static partial class PinsCommand
{
    public static int Run(CommandLine cli, TextWriter output, TextWriter error)
    {
        AgentConfiguration config = AgentConfiguration.Load(cli.ConfigDirectory, cli.HostArgs);
        if (config.Errors.FirstOrDefault(e => e.Key.Contains("PinRoot", StringComparison.Ordinal)) is ConfigError bad)
        {
            error.WriteLine($"bpf-agent pins: {bad}");
            return ExitCodes.Config;
        }

        string root = config.Options.PinRoot;
        if (!Directory.Exists(root))
        {
            output.WriteLine($"no pins: the pin root {root} does not exist");
            return ExitCodes.Ok;
        }

        try
        {
            PinDirectory.Check(root);
        }
        catch (PinDirectoryException e)
        {
            error.WriteLine($"bpf-agent pins: {e.Message}");
            return ExitCodes.Failure;
        }

        return cli.PinsAction == "remove" ? Remove(cli, config, root, output, error) : List(config, root, output);
    }

    private static int List(AgentConfiguration config, string root, TextWriter output)
    {
        bool running;
        using (InstanceLock? probe = InstanceLock.TryAcquire(root, out _))
        {
            running = probe is null;
        }

        output.WriteLine($"pin root {root} ({(running ? "in use by a running agent" : "no agent running")})");
        int sets = 0, pins = 0;
        long bytes = 0;
        foreach (string dir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(dir);
            ProgramSetConfig? set = config.Sets.FirstOrDefault(s => s.Name == name);
            sets++;
            output.WriteLine($"set {name} ({(set is null ? "no config file: left over" : set.File)})");
            foreach (string pin in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
            {
                pins++;
                (string map, string hash) = SplitPinName(Path.GetFileName(pin));
                try
                {
                    BpfPinnedMapInfo info = BpfPinnedMapInfo.Read(pin);
                    bytes += info.MemlockBytes;
                    output.WriteLine($"  {Path.GetFileName(pin),-36} map {map,-24} schema {hash,-8} {info.Type,-14} key {info.KeySize} value {info.ValueSize} max_entries {info.MaxEntries} memlock {info.MemlockBytes}");
                }
                catch (BpfException e)
                {
                    output.WriteLine($"  {Path.GetFileName(pin),-36} map {map,-24} schema {hash,-8} (cannot be read: {e.Message})");
                }
            }
        }

        output.WriteLine($"{sets} set(s), {pins} pin(s), {bytes} bytes of map memory");
        return ExitCodes.Ok;
    }

    private static int Remove(CommandLine cli, AgentConfiguration config, string root, TextWriter output, TextWriter error)
    {
        if (cli.PinsSet is string name && !SetName().IsMatch(name))
        {
            error.WriteLine($"bpf-agent pins: '{name}' is not a program-set name");
            return ExitCodes.Usage;
        }

        // Held while removing: no agent can start on this pin root and re-pin half-removed maps meanwhile.
        using InstanceLock? held = InstanceLock.TryAcquire(root, out string? problem);
        if (held is null)
        {
            error.WriteLine($"bpf-agent pins: refused: an agent holds the pin root {root} (or it cannot be locked: {problem}); stop the agent first, for example systemctl stop bpf-agent");
            return ExitCodes.Failure;
        }

        string[] dirs = cli.PinsSet is string set ? [Path.Combine(root, set)] : Directory.GetDirectories(root);
        if (cli.PinsSet is not null && !Directory.Exists(dirs[0]))
        {
            error.WriteLine($"bpf-agent pins: set {cli.PinsSet} has no pins under {root} (see: bpf-agent pins list)");
            return ExitCodes.Failure;
        }

        int removed = 0;
        foreach (string dir in dirs.Order(StringComparer.Ordinal))
        {
            try
            {
                PinDirectory.Check(dir);
            }
            catch (PinDirectoryException e)
            {
                error.WriteLine($"bpf-agent pins: skipped: {e.Message}");
                continue;
            }

            foreach (string pin in Directory.GetFiles(dir))
            {
                File.Delete(pin); // unlinking the last pin frees the map once no program holds it
                removed++;
            }

            Directory.Delete(dir);
            bool configured = config.Sets.Any(s => s.Name == Path.GetFileName(dir));
            output.WriteLine($"removed the pins of set {Path.GetFileName(dir)}{(configured ? " (its maps start empty at the next start)" : "")}");
        }

        output.WriteLine($"{removed} pin(s) removed from {root}");
        return ExitCodes.Ok;
    }

    /// <summary>"exec_events-1a2b3c4d" into the map name and its schema hash (see MapSchema).</summary>
    internal static (string Map, string Hash) SplitPinName(string file)
    {
        int dash = file.LastIndexOf('-');
        return dash > 0 && file.Length - dash - 1 == 8 ? (file[..dash], file[(dash + 1)..]) : (file, "-");
    }

    [GeneratedRegex("^[a-z][a-z0-9_-]{0,47}$")]
    private static partial Regex SetName();
}
