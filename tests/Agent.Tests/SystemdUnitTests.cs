using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using BpfAgent.Configuration;

namespace BpfAgent.Tests;

/// <summary>
/// deploy/systemd/bpf-agent.service: what systemd-analyze says of it (verify clean, exposure at most 2.5) and the
/// settings the agent relies on; and scripts/install.sh staging a complete layout into a temporary DESTDIR.
/// </summary>
public sealed partial class SystemdUnitTests
{
    private const double MaxExposure = 2.5;
    private const string LibDir = "/usr/lib/bpf-agent/";

    private static string UnitPath => Path.Combine(Paths.Root, "deploy", "systemd", "bpf-agent.service");

    [Fact]
    public void Verify_is_clean()
    {
        using var dir = new TempDir();
        // The unit's commands live in /usr/lib/bpf-agent, which exists only once installed: point them at stand-ins.
        string bin = Directory.CreateDirectory(Path.Combine(dir.Path, "bin")).FullName;
        foreach (string name in new[] { "bpf-agent", "bpf-agent-prepare" })
        {
            string stub = Path.Combine(bin, name);
            File.WriteAllText(stub, "#!/bin/sh\n");
            File.SetUnixFileMode(stub, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        string unit = Path.Combine(dir.Path, "bpf-agent.service");
        File.WriteAllText(unit, File.ReadAllText(UnitPath).Replace(LibDir, bin + "/", StringComparison.Ordinal));

        (int code, string output) = Run("systemd-analyze", ["verify", "--man=no", unit], dir.Path);

        Assert.True(code == 0 && output.Length == 0, $"systemd-analyze verify exited {code}:\n{output}");
    }

    [Fact]
    public void Security_exposure_is_at_most_2_5()
    {
        (int code, string output) = Run("systemd-analyze", ["security", "--offline=true", "--no-pager", UnitPath]);

        Match m = OverallExposure().Match(output);
        Assert.True(m.Success, $"no overall exposure level in (exit {code}):\n{output}");
        double exposure = double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(exposure <= MaxExposure, $"exposure {exposure} > {MaxExposure}:\n{output}");
    }

    [Fact]
    public void Unit_is_a_notify_service_with_watchdog_and_no_restart_on_config_errors()
    {
        UnitFile unit = UnitFile.Read(UnitPath);

        Assert.Equal("notify", unit.Single("Type"));
        Assert.Equal("main", unit.Single("NotifyAccess"));
        string watchdog = unit.Single("WatchdogSec");
        Assert.Matches("^[1-9][0-9]*(s|min)?$", watchdog);
        Assert.Equal("on-failure", unit.Single("Restart"));
        Assert.Contains(ExitCodes.Config.ToString(CultureInfo.InvariantCulture), unit.Words("RestartPreventExitStatus"));
        Assert.Contains(ExitCodes.NoPermission.ToString(CultureInfo.InvariantCulture), unit.Words("RestartPreventExitStatus"));
        Assert.Equal("/usr/lib/bpf-agent/bpf-agent --config-dir /etc/bpf-agent", unit.Single("ExecStart"));
        Assert.Equal("/bin/kill -HUP $MAINPID", unit.Single("ExecReload"));
        Assert.StartsWith("DOTNET_ROOT=/", unit.Single("Environment"), StringComparison.Ordinal);
    }

    [Fact]
    public void Unit_never_denies_write_execute_memory_and_allows_the_bpf_system_calls()
    {
        UnitFile unit = UnitFile.Read(UnitPath);

        // A JIT .NET process crashes at start under MemoryDenyWriteExecute=yes.
        Assert.Empty(unit.All("MemoryDenyWriteExecute"));
        // @system-service alone blocks bpf() (it is in @privileged) and perf_event_open() (in @debug).
        Assert.Contains("@system-service", unit.Words("SystemCallFilter"));
        Assert.Contains("bpf", unit.Words("SystemCallFilter"));
        Assert.Contains("perf_event_open", unit.Words("SystemCallFilter"));
        Assert.DoesNotContain(unit.Words("SystemCallFilter"), w => w.StartsWith('~'));
        Assert.Equal("EPERM", unit.Single("SystemCallErrorNumber"));
    }

    [Fact]
    public void Unit_grants_exactly_the_needed_capabilities_to_a_non_root_user()
    {
        UnitFile unit = UnitFile.Read(UnitPath);
        string[] needed = ["CAP_BPF", "CAP_DAC_READ_SEARCH", "CAP_PERFMON"];

        Assert.Equal(needed, unit.Words("CapabilityBoundingSet").Order(StringComparer.Ordinal));
        Assert.Equal(needed, unit.Words("AmbientCapabilities").Order(StringComparer.Ordinal));
        Assert.Equal("yes", unit.Single("NoNewPrivileges"));
        string user = unit.Single("User");
        Assert.NotEqual("root", user);

        // The user comes from the sysusers.d file installed beside the unit.
        string sysusers = File.ReadAllText(Path.Combine(Paths.Root, "deploy", "systemd", "bpf-agent.sysusers"));
        Assert.Matches($"(?m)^u {Regex.Escape(user)} ", sysusers);
    }

    [Fact]
    public void Only_the_pin_root_is_writable_and_it_is_the_one_the_agent_uses()
    {
        UnitFile unit = UnitFile.Read(UnitPath);

        Assert.Equal("strict", unit.Single("ProtectSystem"));
        Assert.Equal("yes", unit.Single("ProtectKernelTunables"));
        Assert.Equal([AgentOptions.DefaultPinRoot], unit.Words("ReadWritePaths"));

        // The root step that mounts bpffs and creates the pin root for the service user names the same root and user.
        string[] prepare = unit.Single("ExecStartPre").Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["+" + LibDir + "bpf-agent-prepare", AgentOptions.DefaultPinRoot, unit.Single("User")], prepare);
    }

    [Fact]
    public void Shell_scripts_parse()
    {
        foreach ((string shell, string script) in new[] { ("sh", "deploy/systemd/bpf-agent-prepare"), ("bash", "scripts/install.sh") })
        {
            (int code, string output) = Run(shell, ["-n", Path.Combine(Paths.Root, script)]);
            Assert.True(code == 0, $"{shell} -n {script}: {output}");
        }
    }

    /// <summary>
    /// `make install` into a temporary DESTDIR, from the build output (the layout `dotnet publish` makes): the agent,
    /// objects, config with rewritten object paths, the unit; installing twice changes nothing; an operator's edited
    /// file is kept with the shipped one beside it; the staged apphost runs with the unit's DOTNET_ROOT.
    /// </summary>
    [KernelFact]
    public void Install_script_stages_a_working_layout_idempotently()
    {
        using var dest = new TempDir();
        // The agent's build output of this test run's configuration (bin/<configuration>/net10.0/).
        string configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd('/')))!;
        string publish = Path.Combine(Paths.Root, "src", "Agent", "bin", configuration, "net10.0");
        Assert.True(File.Exists(Path.Combine(publish, "bpf-agent")), $"no apphost in {publish}; run `make build`");
        var env = new Dictionary<string, string> { ["DESTDIR"] = dest.Path, ["PUBLISH_DIR"] = publish };

        (int code, string first) = Run("bash", [Path.Combine(Paths.Root, "scripts", "install.sh"), "install"], Paths.Root, env);
        Assert.True(code == 0, first);
        Assert.Contains("systemd-analyze verify", first, StringComparison.Ordinal);
        Assert.Matches(@"security --offline=true \S+: [0-2]\.[0-9]", first);

        string lib = dest.Path + "/usr/lib/bpf-agent";
        string etc = dest.Path + "/etc/bpf-agent";
        foreach (string shipped in Directory.GetFiles(Path.Combine(Paths.Root, "config", "programs.d"), "*.json"))
        {
            string installed = File.ReadAllText(Path.Combine(etc, "programs.d", Path.GetFileName(shipped)));
            Match obj = ObjectKey().Match(installed);
            Assert.True(obj.Success, installed);
            Assert.StartsWith(LibDir + "programs/", obj.Groups[1].Value, StringComparison.Ordinal);
            Assert.True(File.Exists(dest.Path + obj.Groups[1].Value), $"{obj.Groups[1].Value} is not installed");
            Assert.Contains("\"$schema\": \"/usr/share/bpf-agent/schema/program-set.schema.json\"", installed, StringComparison.Ordinal);
        }

        // On PATH, through a link that stays inside DESTDIR; nothing that only debugging or IIS/static files need.
        var onPath = new FileInfo(dest.Path + "/usr/bin/bpf-agent");
        Assert.Equal("../lib/bpf-agent/bpf-agent", onPath.LinkTarget);
        Assert.Equal(Path.GetFullPath(lib + "/bpf-agent"), onPath.ResolveLinkTarget(returnFinalTarget: true)?.FullName);
        Assert.Empty(Directory.GetFiles(lib, "*.pdb"));
        Assert.Empty(Directory.GetFiles(lib, "*staticwebassets*"));
        Assert.False(File.Exists(lib + "/web.config"));

        Assert.True(File.Exists(dest.Path + "/usr/share/bpf-agent/schema/program-set.schema.json"));
        Assert.True(File.Exists(dest.Path + "/usr/lib/systemd/system/bpf-agent.service"));
        Assert.True(File.Exists(dest.Path + "/usr/lib/sysusers.d/bpf-agent.conf"));
        foreach (string path in Directory.EnumerateFileSystemEntries(dest.Path, "*", SearchOption.AllDirectories))
        {
            UnixFileMode mode = File.GetUnixFileMode(path);
            Assert.True((mode & (UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) == 0, $"{path} is writable by group or others ({mode})");
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            File.GetUnixFileMode(Path.Combine(etc, "agent.json")));

        // Again: nothing in /etc changes. Then an operator's edit survives, and the shipped file goes beside it.
        (code, string second) = Run("bash", [Path.Combine(Paths.Root, "scripts", "install.sh"), "install"], Paths.Root, env);
        Assert.True(code == 0, second);
        Assert.DoesNotContain("installed " + etc, second, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(etc, "*.dist", SearchOption.AllDirectories));

        string agentJson = Path.Combine(etc, "agent.json");
        string edited = File.ReadAllText(agentJson).Replace("\"PollTimeoutMs\": 5", "\"PollTimeoutMs\": 7", StringComparison.Ordinal);
        File.WriteAllText(agentJson, edited);
        (code, string third) = Run("bash", [Path.Combine(Paths.Root, "scripts", "install.sh"), "install"], Paths.Root, env);
        Assert.True(code == 0, third);
        Assert.Equal(edited, File.ReadAllText(agentJson));
        Assert.True(File.Exists(agentJson + ".dist"), third);

        // The staged apphost starts with the environment the unit gives it (no PATH to dotnet, DOTNET_ROOT only).
        string dotnetRoot = UnitFile.Read(dest.Path + "/usr/lib/systemd/system/bpf-agent.service").Single("Environment")["DOTNET_ROOT=".Length..];
        (code, string inspect) = Run(dest.Path + "/usr/bin/bpf-agent", ["inspect", lib + "/programs/exec.bpf.o"], dest.Path,
            new Dictionary<string, string> { ["DOTNET_ROOT"] = dotnetRoot, ["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin" }, clearEnvironment: true);
        Assert.True(code == 0, inspect);
        Assert.Contains("handle_exec", inspect, StringComparison.Ordinal);
    }

    private static (int Code, string Output) Run(string file, IEnumerable<string> args, string? workingDirectory = null,
        IDictionary<string, string>? environment = null, bool clearEnvironment = false)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Paths.Root,
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        if (clearEnvironment)
        {
            psi.Environment.Clear();
        }

        foreach ((string k, string v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(2)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 2 minutes");
        }

        return (p.ExitCode, (stdout.Result + stderr.Result).Trim());
    }

    [GeneratedRegex(@"Overall exposure level for \S+: ([0-9]+\.[0-9]+)")]
    private static partial Regex OverallExposure();

    [GeneratedRegex("\"object\": *\"([^\"]+)\"")]
    private static partial Regex ObjectKey();

    /// <summary>The [Service]-style assignments of a unit file (later assignments add to earlier ones).</summary>
    private sealed class UnitFile
    {
        private readonly List<(string Key, string Value)> _entries;

        private UnitFile(List<(string Key, string Value)> entries) => _entries = entries;

        public static UnitFile Read(string path)
        {
            var entries = new List<(string, string)>();
            foreach (string raw in File.ReadLines(path))
            {
                string line = raw.Trim();
                if (line.Length == 0 || line[0] is '#' or ';' or '[')
                {
                    continue;
                }

                int eq = line.IndexOf('=', StringComparison.Ordinal);
                Assert.True(eq > 0, $"not an assignment: {line}");
                entries.Add((line[..eq].Trim(), line[(eq + 1)..].Trim()));
            }

            return new UnitFile(entries);
        }

        public IReadOnlyList<string> All(string key) => _entries.Where(e => e.Key == key).Select(e => e.Value).ToList();

        public string Single(string key)
        {
            IReadOnlyList<string> values = All(key);
            Assert.True(values.Count == 1, $"{key}= appears {values.Count} times");
            return values[0];
        }

        public IReadOnlyList<string> Words(string key) =>
            All(key).SelectMany(v => v.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
    }

    private sealed class TempDir : IDisposable
    {
        public TempDir() => Path = Directory.CreateTempSubdirectory("bpf-agent-unit-").FullName;

        public string Path { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
