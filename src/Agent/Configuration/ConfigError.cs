namespace BpfAgent.Configuration;

/// <summary>One problem in a configuration file: where it is, what is wrong, and how to fix it.</summary>
/// <param name="File">The file, as the operator wrote or installed it.</param>
/// <param name="Key">A JSON path such as <c>ringBuffers[0].metrics[1].field</c>, or "" for the whole file.</param>
/// <param name="Problem">What is wrong.</param>
/// <param name="Fix">What to do about it.</param>
public sealed record ConfigError(string File, string Key, string Problem, string Fix)
{
    public override string ToString() =>
        Key.Length == 0 ? $"{File}: {Problem.TrimEnd('.')}. Fix: {Fix}" : $"{File}: {Key}: {Problem.TrimEnd('.')}. Fix: {Fix}";
}

/// <summary>Configuration that cannot be used; the agent exits with <see cref="ExitCodes.Config"/> at startup.</summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigError> errors)
        : base(string.Join(Environment.NewLine, errors))
    {
        Errors = errors;
    }

    public ConfigException(ConfigError error)
        : this([error])
    {
    }

    public ConfigException()
        : this([])
    {
    }

    public ConfigException(string message)
        : this(new ConfigError("", "", message, "see docs/configuration.md"))
    {
    }

    public ConfigException(string message, Exception inner)
        : base(message, inner)
    {
        Errors = [new ConfigError("", "", message, "see docs/configuration.md")];
    }

    public IReadOnlyList<ConfigError> Errors { get; }
}

/// <summary>Process exit codes (sysexits.h where one fits).</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    public const int Failure = 1;
    public const int Usage = 64;

    /// <summary>EX_NOPERM: the agent lacks the capabilities it needs.</summary>
    public const int NoPermission = 77;

    /// <summary>EX_CONFIG: the systemd unit does not restart on it (RestartPreventExitStatus=78).</summary>
    public const int Config = 78;
}
