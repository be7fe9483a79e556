using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace BpfAgent.Configuration;

/// <summary>
/// The agent's own settings: the "Agent" section of agent.json, overridable by environment variables
/// (BPF_AGENT_Agent__Listen) and the command line (--Agent:Listen=...), as .NET hosts do.
/// </summary>
public sealed record AgentOptions
{
    public const string DefaultConfigDirectory = "/etc/bpf-agent";
    public const string DefaultListen = "http://127.0.0.1:9435";
    public const string DefaultPinRoot = "/sys/fs/bpf/bpf-agent";

    /// <summary>Where agent.json and the program-set directory are.</summary>
    public string ConfigDirectory { get; init; } = DefaultConfigDirectory;

    /// <summary>HTTP address of /metrics and /healthz; loopback by default.</summary>
    public string Listen { get; init; } = DefaultListen;

    /// <summary>Program-set files (*.json), relative to the config directory.</summary>
    public string ProgramsDirectory { get; init; } = "programs.d";

    /// <summary>bpffs directory under which each set pins its maps (&lt;PinRoot&gt;/&lt;set&gt;/).</summary>
    public string PinRoot { get; init; } = DefaultPinRoot;

    /// <summary>Keep pins when the agent stops (default), so counters and buffered samples survive a restart.</summary>
    public bool KeepPinsOnExit { get; init; } = true;

    /// <summary>
    /// Batches the channel between the poll thread and the workers holds. A hand-off, not the main buffer: when it is
    /// full the poll thread waits (<see cref="ChannelFullWaitMs"/>) and the kernel rings hold the backlog.
    /// </summary>
    public int ChannelCapacity { get; init; } = 64;

    /// <summary>
    /// How long the poll thread waits at least for room when the channel is full; past that it waits on while every
    /// ring is less than half full, then drops the batch (counted as channel-stage drops). While it waits the kernel
    /// rings keep buffering. 0: drop at once.
    /// </summary>
    public int ChannelFullWaitMs { get; init; } = 50;

    /// <summary>Bytes of one pooled batch.</summary>
    public int BatchBytes { get; init; } = 64 * 1024;

    /// <summary>
    /// Longest a partly filled batch waits for more samples before it is handed to the workers (ms). Metrics are read
    /// seconds apart, so waiting costs nothing, and fuller batches make the channel cover more time.
    /// </summary>
    public int BatchFlushMs { get; init; } = 100;

    /// <summary>ring_buffer__poll timeout; every ring is also consumed after each timeout (NO_WAKEUP producers).</summary>
    public int PollTimeoutMs { get; init; } = 5;

    /// <summary>
    /// Turn on the kernel's BPF run-time statistics (bpf_enable_stats) for the run count and run time metrics. Off by
    /// default: while on, every BPF program on the host (not only the agent's) pays two clock reads per run, about
    /// 110 ns on these machines, which doubled the cost of the shipped syscall programs. Needs CAP_SYS_ADMIN.
    /// </summary>
    public bool EnableRunTimeStats { get; init; }

    /// <summary>Most libbpf log lines per second written to the log; the rest are counted.</summary>
    public int LibbpfLogLinesPerSecond { get; init; } = 50;

    /// <summary>Drop ratio (dropped / produced over a second) above which a set's rings raise the drop alarm, unless the set sets its own.</summary>
    public double DropAlarmRatio { get; init; } = 0.01;

    /// <summary>Let an active drop alarm turn /healthz into 503.</summary>
    public bool ReportDropAlarmsInHealth { get; init; }

    /// <summary>Reload program sets when files in the config directory change (SIGHUP always reloads).</summary>
    public bool WatchConfigDirectory { get; init; } = true;

    /// <summary>Maximum seconds a graceful shutdown may take.</summary>
    public double ShutdownTimeoutSeconds { get; init; } = 5;

    /// <summary>Log lines as text (default) or as compact JSON, one object a line ("json").</summary>
    public string LogFormat { get; init; } = Logs.LogOutput.Text;

    /// <summary>
    /// A BTF file describing the running kernel (libbpf's btf_custom_path), for CO-RE relocations on a kernel without
    /// <c>/sys/kernel/btf/vmlinux</c>; empty uses the kernel's own. See docs/portability.md.
    /// </summary>
    public string BtfPath { get; init; } = "";

    /// <summary>
    /// A web configuration file in the Prometheus exporter-toolkit's format (TLS, basic auth, headers, rate limit),
    /// relative to the config directory; empty serves plain HTTP to anyone. See docs/security.md.
    /// </summary>
    public string WebConfigFile { get; init; } = "";

    public string ProgramsPath => Path.GetFullPath(ProgramsDirectory, ConfigDirectory);

    private static readonly string[] s_known =
    [
        nameof(Listen), nameof(ProgramsDirectory), nameof(PinRoot), nameof(KeepPinsOnExit), nameof(ChannelCapacity),
        nameof(ChannelFullWaitMs), nameof(BatchBytes), nameof(BatchFlushMs), nameof(PollTimeoutMs), nameof(EnableRunTimeStats), nameof(LibbpfLogLinesPerSecond),
        nameof(ShutdownTimeoutSeconds), nameof(DropAlarmRatio), nameof(ReportDropAlarmsInHealth), nameof(WatchConfigDirectory),
        nameof(LogFormat),
        nameof(BtfPath),
        nameof(WebConfigFile),
    ];

    /// <summary>
    /// Reads and checks the "Agent" section; every problem is listed with the key and the fix, and blamed on where
    /// the value came from: agent.json, an environment variable or the command line.
    /// </summary>
    public static AgentOptions Read(IConfiguration configuration, string configDirectory, string agentFile, List<ConfigError> errors) =>
        Read(configuration, configDirectory, agentFile, errors, KernelBtfPath.Sysfs);

    /// <summary><see cref="Read(IConfiguration, string, string, List{ConfigError})"/> with the kernel's BTF looked for at <paramref name="kernelBtf"/>.</summary>
    internal static AgentOptions Read(IConfiguration configuration, string configDirectory, string agentFile, List<ConfigError> errors, string kernelBtf)
    {
        IConfigurationSection s = configuration.GetSection("Agent");
        ErrorAt error = (key, problem, fix) => errors.Add(SettingSource.Error(configuration, $"Agent:{key}", agentFile, problem, fix));
        foreach (IConfigurationSection child in s.GetChildren())
        {
            if (!s_known.Contains(child.Key, StringComparer.OrdinalIgnoreCase) && child.Key != "$comment")
            {
                error(child.Key, "is not a known setting", DidYouMean.Closest(child.Key, s_known) is string close
                    ? $"did you mean {close}?"
                    : $"remove it; known settings: {string.Join(", ", s_known)}");
            }
        }

        var o = new AgentOptions
        {
            ConfigDirectory = configDirectory,
            Listen = s[nameof(Listen)] ?? DefaultListen,
            ProgramsDirectory = s[nameof(ProgramsDirectory)] ?? "programs.d",
            PinRoot = s[nameof(PinRoot)] ?? DefaultPinRoot,
            KeepPinsOnExit = Bool(s, nameof(KeepPinsOnExit), true, error),
            ChannelCapacity = Int(s, nameof(ChannelCapacity), 64, 2, 1 << 20, error),
            ChannelFullWaitMs = Int(s, nameof(ChannelFullWaitMs), 50, 0, 10_000, error),
            BatchBytes = Int(s, nameof(BatchBytes), 64 * 1024, 4096, 16 << 20, error),
            BatchFlushMs = Int(s, nameof(BatchFlushMs), 100, 1, 10_000, error),
            PollTimeoutMs = Int(s, nameof(PollTimeoutMs), 5, 1, 1000, error),
            EnableRunTimeStats = Bool(s, nameof(EnableRunTimeStats), false, error),
            LibbpfLogLinesPerSecond = Int(s, nameof(LibbpfLogLinesPerSecond), 50, 1, 100_000, error),
            ShutdownTimeoutSeconds = Int(s, nameof(ShutdownTimeoutSeconds), 5, 1, 300, error),
            DropAlarmRatio = Ratio(s, nameof(DropAlarmRatio), 0.01, error),
            ReportDropAlarmsInHealth = Bool(s, nameof(ReportDropAlarmsInHealth), false, error),
            WatchConfigDirectory = Bool(s, nameof(WatchConfigDirectory), true, error),
            LogFormat = (s[nameof(LogFormat)] ?? Logs.LogOutput.Text).ToLowerInvariant(),
            BtfPath = KernelBtfPath.Check(s[nameof(BtfPath)], configDirectory, kernelBtf, agentFile, errors),
            WebConfigFile = s[nameof(WebConfigFile)] is { Length: > 0 } web ? Path.GetFullPath(web, configDirectory) : "",
        };

        if (o.LogFormat is not (Logs.LogOutput.Text or Logs.LogOutput.Json))
        {
            error(nameof(LogFormat), $"'{s[nameof(LogFormat)]}' is not a log format", "use \"text\" or \"json\"");
            o = o with { LogFormat = Logs.LogOutput.Text };
        }

        if (ListenAddress.ProblemWith(o.Listen) is string listenProblem)
        {
            error(nameof(Listen), listenProblem, "write for example \"http://127.0.0.1:9435\" (https:// with a web config file that configures TLS; a port from 1 to 65535)");
        }

        // Normalised first: "/sys/fs/bpf/../../tmp" starts with the right prefix but is not under it.
        string? pinRoot = Path.IsPathRooted(o.PinRoot) ? Path.GetFullPath(o.PinRoot).TrimEnd('/') : null;
        if (pinRoot is null || !pinRoot.StartsWith("/sys/fs/bpf/", StringComparison.Ordinal))
        {
            error(nameof(PinRoot), $"'{o.PinRoot}' is not under /sys/fs/bpf", "use a directory under /sys/fs/bpf, such as /sys/fs/bpf/bpf-agent");
            return o;
        }

        return o with { PinRoot = pinRoot };
    }

    private delegate void ErrorAt(string key, string problem, string fix);

    private static int Int(IConfigurationSection s, string key, int fallback, int min, int max, ErrorAt error)
    {
        string? v = s[key];
        if (v is null)
        {
            return fallback;
        }

        if (int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) && i >= min && i <= max)
        {
            return i;
        }

        error(key, $"'{v}' is not a whole number from {min} to {max}", $"set {key} to a number from {min} to {max}");
        return fallback;
    }

    private static double Ratio(IConfigurationSection s, string key, double fallback, ErrorAt error)
    {
        string? v = s[key];
        if (v is null)
        {
            return fallback;
        }

        if (double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= 0 && d <= 1)
        {
            return d;
        }

        error(key, $"'{v}' is not a number from 0 to 1", $"set {key} to a fraction such as 0.01");
        return fallback;
    }

    private static bool Bool(IConfigurationSection s, string key, bool fallback, ErrorAt error)
    {
        string? v = s[key];
        if (v is null)
        {
            return fallback;
        }

        if (bool.TryParse(v, out bool b))
        {
            return b;
        }

        error(key, $"'{v}' is not true or false", $"set {key} to true or false");
        return fallback;
    }
}
