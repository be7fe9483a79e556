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
        // The shipped defaults come first, so an agent.json that is empty (or absent: it is optional) runs as shipped.
        var builder = new ConfigurationBuilder().AddInMemoryCollection(BuiltInDefaults);
        if (!Directory.Exists(configDirectory))
        {
            errors.Add(new ConfigError(configDirectory, "", "the config directory does not exist", "create it with programs.d/ (and agent.json if the defaults do not suit), or pass --config-dir"));
        }
        else if (File.Exists(agentFile))
        {
            builder.AddJsonFile(agentFile, optional: true, reloadOnChange: false);
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

            string key = inner is System.Text.Json.JsonException e2 ? JsonPosition(e2) : "";
            errors.Add(new ConfigError(agentFile, key, $"invalid JSON: {JsonMessage(inner.Message)}", "fix the JSON syntax"));
            configuration = new ConfigurationBuilder().AddInMemoryCollection(BuiltInDefaults).AddEnvironmentVariables(EnvironmentPrefix).AddCommandLine(hostArgs).Build();
        }

        AgentOptions options = AgentOptions.Read(configuration, configDirectory, agentFile, errors);
        BpfAgent.Web.WebConfig? web = BpfAgent.Web.WebConfigReader.Read(configuration, options, agentFile, errors);
        var sets = new List<ProgramSetConfig>();
        if (errors.Count == 0 || Directory.Exists(options.ProgramsPath))
        {
            (IReadOnlyList<ProgramSetConfig> read, IReadOnlyList<ConfigError> setErrors) = ProgramSetConfigReader.ReadDirectory(options.ProgramsPath, configDirectory);
            sets.AddRange(read);
            errors.AddRange(setErrors);
        }

        CheckTrust(agentFile, options, sets, errors);

        errors.AddRange(MetricFamilies.Clashes(sets));

        // Metric names are global in the scrape: two sets may not define the same one.
        foreach (IGrouping<string, (ProgramSetConfig Set, MetricConfig Metric)> dup in sets
                     .SelectMany(s => s.RingBuffers.SelectMany(r => r.Metrics).Select(m => (Set: s, Metric: m)))
                     .GroupBy(x => x.Metric.Name).Where(g => g.Select(x => x.Set.Name).Distinct().Count() > 1))
        {
            (ProgramSetConfig set, MetricConfig metric) = dup.Last();
            errors.Add(new ConfigError(set.File, $"{metric.Key}.name", $"metric '{dup.Key}' is also defined by set(s) {string.Join(", ", dup.Select(x => x.Set.Name).Distinct().SkipLast(1))}",
                "give it a distinct name, for example prefixed with the set's name"));
        }

        return new AgentConfiguration(configuration, options, sets, errors) { Warnings = ConfigWarnings.For(sets), Web = web };
    }

    /// <summary>
    /// The settings an empty agent.json stands for: information-level logs, but the framework's per-request and
    /// hosting chatter only from warning up (a scrape must not log a line).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> BuiltInDefaults = new Dictionary<string, string?>
    {
        ["Serilog:MinimumLevel:Default"] = "Information",
        ["Serilog:MinimumLevel:Override:Microsoft"] = "Warning",
        ["Serilog:MinimumLevel:Override:Microsoft.Hosting.Lifetime"] = "Information",
        ["Serilog:MinimumLevel:Override:libbpf"] = "Information",
    };

    /// <summary>The web config file (TLS, basic auth), or null for plain HTTP to anyone.</summary>
    public BpfAgent.Web.WebConfig? Web { get; init; }

    /// <summary>Things that work but are probably not what was meant (the agent runs; `check` and the log show them).</summary>
    public IReadOnlyList<ConfigError> Warnings { get; init; } = [];

    /// <summary>"line 3, column 7" (1-based) of a JSON syntax error.</summary>
    internal static string JsonPosition(System.Text.Json.JsonException e) =>
        e.LineNumber is long line ? $"line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "";

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
            foreach (string file in Directory.GetFiles(options.ProgramsPath, "*.json").Concat(Directory.GetFiles(options.ProgramsPath, "*.yaml")))
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
