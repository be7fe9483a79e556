using Bpf;
using BpfAgent.Configuration;
using BpfAgent.ProgramSets;

namespace BpfAgent.Cli;

/// <summary>
/// <c>bpf-agent check</c>: reads the config directory, then opens, verifies (loads), attaches and detaches
/// every set without pinning anything, and lists every problem. Exit 0 when all is well, 78 for
/// configuration problems, 1 when only the kernel refused something.
/// </summary>
public static class CheckCommand
{
    public static int Run(CommandLine cli, TextWriter output)
    {
        AgentConfiguration config = AgentConfiguration.Load(cli.ConfigDirectory, cli.HostArgs);
        var problems = new List<string>();
        bool configProblem = false;
        foreach (ConfigError e in config.Errors)
        {
            problems.Add(e.ToString());
            configProblem = true;
        }

        if (Security.Capabilities.MissingMessage(Security.Capabilities.Effective()) is string missing)
        {
            foreach (string p in problems)
            {
                output.WriteLine($"error: {p}");
            }

            output.WriteLine($"bpf-agent check: {missing}");
            return ExitCodes.NoPermission;
        }

        try
        {
            Libbpf.EnsureSupported();
        }
        catch (BpfException e)
        {
            output.WriteLine($"bpf-agent check: {e.Message}");
            return ExitCodes.Failure;
        }

        foreach (ConfigError w in config.Warnings)
        {
            output.WriteLine($"warning: {w}");
        }

        if (config.Errors.All(e => !e.Key.EndsWith("Listen", StringComparison.Ordinal)) && ListenAddress.TryBind(config.Options.Listen) is string listenProblem)
        {
            if (AgentRunsOn(config.Options.PinRoot))
            {
                output.WriteLine($"ok: {config.Options.Listen} is in use, by the agent running on {config.Options.PinRoot} as it seems (not checked further)");
            }
            else
            {
                problems.Add($"{listenProblem}. Fix: {ListenAddress.Fix}");
            }
        }

        if (config.Web is Web.WebConfig web)
        {
            output.WriteLine($"ok: {web.File}: {Web.WebConfigReader.Summary(web)}");
        }

        var loader = new ProgramSetLoader(config.Options, Serilog.Core.Logger.None);
        foreach (ProgramSetConfig set in config.Sets)
        {
            try
            {
                using LoadedProgramSet loaded = loader.Load(set with { Pinning = set.Pinning with { Enabled = false } });
                output.WriteLine($"ok: {set.Name}: {set.ObjectPath} loaded, variant {loaded.Variant}, attached {string.Join(", ", loaded.AttachedPrograms)}, rings [{string.Join(", ", loaded.Rings.Select(r => r.MapName))}], maps [{string.Join(", ", loaded.Maps.Select(m => m.MapName))}]");
            }
            catch (ConfigException e)
            {
                configProblem = true;
                problems.AddRange(e.Errors.Select(x => x.ToString()));
            }
            catch (Exception e)
            {
                problems.Add($"{set.File}: {e.Message}");
            }
        }

        foreach (string p in problems)
        {
            output.WriteLine($"error: {p}");
        }

        output.WriteLine(problems.Count == 0
            ? $"bpf-agent check: {config.Sets.Count} program set(s) OK in {cli.ConfigDirectory}"
            : $"bpf-agent check: {problems.Count} problem(s) in {cli.ConfigDirectory}");
        return problems.Count == 0 ? ExitCodes.Ok : configProblem ? ExitCodes.Config : ExitCodes.Failure;
    }

    /// <summary>Whether an agent holds the pin root's instance lock (then the listen address is its own).</summary>
    private static bool AgentRunsOn(string pinRoot)
    {
        if (!Directory.Exists(pinRoot))
        {
            return false;
        }

        using Security.InstanceLock? probe = Security.InstanceLock.TryAcquire(pinRoot, out string? problem);
        return probe is null && problem?.Contains("already running", StringComparison.Ordinal) == true;
    }
}
