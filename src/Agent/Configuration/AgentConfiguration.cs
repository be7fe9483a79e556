using Microsoft.Extensions.Configuration;

namespace BpfAgent.Configuration;

/// <summary>
/// Everything read from the config directory before anything is loaded: agent.json (with environment and
/// command-line overrides), the agent's options and every program set, plus every problem found.
/// </summary>
public sealed record AgentConfiguration(IConfiguration Configuration, AgentOptions Options, IReadOnlyList<ProgramSetConfig> Sets, IReadOnlyList<ConfigError> Errors)
{
    public const string AgentFileName = "agent.json";
    public const string EnvironmentPrefix = "BPF_AGENT_";

    public static AgentConfiguration Load(string configDirectory, string[] hostArgs)
    {
        var errors = new List<ConfigError>();
        string agentFile = Path.Combine(configDirectory, AgentFileName);
        var builder = new ConfigurationBuilder();
        if (!Directory.Exists(configDirectory))
        {
            errors.Add(new ConfigError(configDirectory, "", "the config directory does not exist", "create it with agent.json and programs.d/, or pass --config-dir"));
        }
        else if (!File.Exists(agentFile))
        {
            errors.Add(new ConfigError(agentFile, "", "does not exist", "create it (see config/agent.json in the source tree)"));
        }
        else
        {
            builder.AddJsonFile(agentFile, optional: false, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(hostArgs);
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or System.Text.Json.JsonException)
        {
            // The parser's own error (with its line) sits a few exceptions deep.
            Exception inner = e;
            while (inner is not System.Text.Json.JsonException && inner.InnerException is not null)
            {
                inner = inner.InnerException;
            }

            string key = inner is System.Text.Json.JsonException { LineNumber: long line } ? $"line {line + 1}" : "";
            errors.Add(new ConfigError(agentFile, key, $"invalid JSON: {JsonMessage(inner.Message)}", "fix the JSON syntax"));
            configuration = new ConfigurationBuilder().AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(hostArgs).Build();
        }

        AgentOptions options = AgentOptions.Read(configuration, configDirectory, agentFile, errors);
        var sets = new List<ProgramSetConfig>();
        if (errors.Count == 0 || Directory.Exists(options.ProgramsPath))
        {
            (IReadOnlyList<ProgramSetConfig> read, IReadOnlyList<ConfigError> setErrors) = ProgramSetConfigReader.ReadDirectory(options.ProgramsPath, configDirectory);
            sets.AddRange(read);
            errors.AddRange(setErrors);
        }

        CheckTrust(agentFile, options, sets, errors);

        // Metric names are global in the scrape: two sets may not define the same one.
        foreach (IGrouping<string, (ProgramSetConfig Set, MetricConfig Metric)> dup in sets
                     .SelectMany(s => s.RingBuffers.SelectMany(r => r.Metrics).Select(m => (Set: s, Metric: m)))
                     .GroupBy(x => x.Metric.Name).Where(g => g.Select(x => x.Set.Name).Distinct().Count() > 1))
        {
            (ProgramSetConfig set, MetricConfig metric) = dup.Last();
            errors.Add(new ConfigError(set.File, $"{metric.Key}.name", $"metric '{dup.Key}' is also defined by set(s) {string.Join(", ", dup.Select(x => x.Set.Name).Distinct().SkipLast(1))}",
                "give it a distinct name, for example prefixed with the set's name"));
        }

        return new AgentConfiguration(configuration, options, sets, errors);
    }

    /// <summary>System.Text.Json's message without its 0-based position suffix (the key carries the 1-based line).</summary>
    internal static string JsonMessage(string message) => message.Split(" Path:")[0].Split(" LineNumber:")[0].TrimEnd('.', ' ');

    /// <summary>The files that decide what is loaded into the kernel must not be changeable by anyone but root.</summary>
    private static void CheckTrust(string agentFile, AgentOptions options, List<ProgramSetConfig> sets, List<ConfigError> errors)
    {
        const string Fix = "make the file and every directory above it owned by root and not writable by group or others (chown root:root; chmod go-w)";
        if (File.Exists(agentFile) && Security.FileTrust.Check(agentFile) is string agentProblem)
        {
            errors.Add(new ConfigError(agentFile, "", $"refused: {agentProblem}", Fix));
        }

        if (Directory.Exists(options.ProgramsPath))
        {
            foreach (string file in Directory.GetFiles(options.ProgramsPath, "*.json"))
            {
                if (Security.FileTrust.Check(file) is string problem)
                {
                    errors.Add(new ConfigError(file, "", $"refused: {problem}", Fix));
                    sets.RemoveAll(s => s.File == file);
                }
            }
        }

        foreach (ProgramSetConfig set in sets.ToList())
        {
            if (File.Exists(set.ObjectPath) && Security.FileTrust.Check(set.ObjectPath) is string problem)
            {
                errors.Add(new ConfigError(set.File, "object", $"refused: {problem}", Fix));
                sets.Remove(set);
            }
        }
    }
}
