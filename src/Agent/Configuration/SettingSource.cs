using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.CommandLine;
using Microsoft.Extensions.Configuration.EnvironmentVariables;

namespace BpfAgent.Configuration;

/// <summary>
/// Where a setting's value came from: agent.json, an environment variable (<c>BPF_AGENT_Agent__Listen</c>) or the
/// command line (<c>--Agent:Listen=...</c>), so an error is blamed on what the operator has to change.
/// </summary>
public static class SettingSource
{
    public const string CommandLine = "command line";
    public const string Environment = "environment";

    /// <summary>An error about <paramref name="key"/> (a configuration path such as <c>Agent:Listen</c>), placed where its value was set.</summary>
    public static ConfigError Error(IConfiguration configuration, string key, string agentFile, string problem, string fix) =>
        Of(configuration, key) switch
        {
            CommandLineConfigurationProvider => new ConfigError(CommandLine, $"--{key}", problem, fix),
            EnvironmentVariablesConfigurationProvider => new ConfigError(Environment, AgentConfiguration.EnvironmentPrefix + key.Replace(":", "__", StringComparison.Ordinal), problem, fix),
            _ => new ConfigError(agentFile, key.Replace(':', '.'), problem, fix),
        };

    /// <summary>The provider whose value wins for <paramref name="key"/> (the last one that has it), or null.</summary>
    public static IConfigurationProvider? Of(IConfiguration configuration, string key)
    {
        if (configuration is not IConfigurationRoot root)
        {
            return null;
        }

        foreach (IConfigurationProvider provider in root.Providers.Reverse())
        {
            // A key with children only (Agent:Foo:Bar) has no value of its own.
            if (provider.TryGet(key, out _) || provider.GetChildKeys([], key).Any())
            {
                return provider;
            }
        }

        return null;
    }
}
