using System.Diagnostics;
using System.Text;

namespace BpfAgent.Tests;

/// <summary>
/// podman and buildah as this machine runs them (docs/containers.md): runc, the cgroupfs manager and lowered ulimits
/// (no CAP_SYS_RESOURCE here), all through one CONTAINERS_CONF file written under build/. No registry: the test
/// images are built with buildah, once, and kept in the local store.
/// </summary>
public static class Podman
{
    /// <summary>A busybox image (Debian's busybox-static in an image from scratch), for containers that exec things.</summary>
    public const string BusyboxImage = "localhost/bpf-agent-test-busybox:1";

    /// <summary>What `make image` builds.</summary>
    public const string AgentImage = "localhost/bpf-agent:latest";

    private static readonly SemaphoreSlim s_build = new(1, 1);
    private static readonly string[] s_tools = ["podman", "buildah", "runc"];

    public static string ConfFile { get; } = WriteConf();

    /// <summary>Why the container tests cannot run here, or null (under CI=true they run and fail instead).</summary>
    public static string? SkipReason { get; } = Paths.KernelSkipReason ?? (Paths.IsCi ? null : Missing());

    /// <summary>Runs podman; its exit code and output (stdout, then stderr).</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args) => Exec("podman", args, TimeSpan.FromMinutes(3));

    /// <summary>Runs podman and fails the test on a non-zero exit; its stdout, trimmed.</summary>
    public static string Check(params string[] args)
    {
        (int exit, string o, string e) = Run(args);
        Assert.True(exit == 0, $"podman {string.Join(' ', args)} exited {exit}:\n{o}\n{e}");
        return o.Trim();
    }

    public static (int Exit, string Out, string Err) Exec(string file, IEnumerable<string> args, TimeSpan timeout, IDictionary<string, string>? environment = null)
    {
        // Not the test's directory: `podman kube play` (4.3) builds an image named "bpf-agent" from ./bpf-agent/ when
        // that exists, and the agent's apphost sits there.
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = Path.GetTempPath(),
        };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["CONTAINERS_CONF"] = ConfFile;
        foreach ((string k, string v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        using var p = Process.Start(psi)!;
        var o = new StringBuilder();
        var e = new StringBuilder();
        p.OutputDataReceived += (_, d) => { if (d.Data is not null) { lock (o) { o.AppendLine(d.Data); } } };
        p.ErrorDataReceived += (_, d) => { if (d.Data is not null) { lock (e) { e.AppendLine(d.Data); } } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in {timeout}");
        }

        p.WaitForExit();
        lock (o)
        {
            lock (e)
            {
                return (p.ExitCode, o.ToString(), e.ToString());
            }
        }
    }

    /// <summary>Builds <see cref="BusyboxImage"/> unless the store has it.</summary>
    public static void EnsureBusybox()
    {
        s_build.Wait();
        try
        {
            if (Run("image", "exists", BusyboxImage).Exit == 0)
            {
                return;
            }

            string busybox = File.Exists("/bin/busybox") ? "/bin/busybox" : "/usr/bin/busybox";
            string script = $"""
                set -e
                c=$(buildah from scratch)
                trap 'buildah rm "$c" >/dev/null 2>&1 || true' EXIT
                buildah copy --quiet "$c" {busybox} /bin/busybox >/dev/null
                buildah run "$c" -- /bin/busybox --install -s /bin
                buildah config --env PATH=/bin --cmd '["/bin/sh"]' "$c"
                buildah commit --quiet "$c" {BusyboxImage} >/dev/null
                """;
            (int exit, string o, string e) = Exec("bash", ["-c", script], TimeSpan.FromMinutes(3));
            Assert.True(exit == 0, $"building {BusyboxImage} with buildah failed ({exit}):\n{o}\n{e}");
        }
        finally
        {
            s_build.Release();
        }
    }

    /// <summary>Builds <see cref="AgentImage"/> with `make image`'s script unless the store has one newer than the built agent.</summary>
    public static void EnsureAgentImage()
    {
        s_build.Wait();
        try
        {
            (int exit, string created, _) = Run("image", "inspect", "--format", "{{.Created.Unix}}", AgentImage);
            long agentBuilt = new DateTimeOffset(File.GetLastWriteTimeUtc(Paths.AgentDll)).ToUnixTimeSeconds();
            if (exit == 0 && long.TryParse(created.Trim(), out long at) && at >= agentBuilt)
            {
                return;
            }

            (exit, string o, string e) = Exec("bash", [Path.Combine(Paths.Root, "deploy", "image", "build.sh")], TimeSpan.FromMinutes(15));
            Assert.True(exit == 0, $"deploy/image/build.sh failed ({exit}):\n{o}\n{e}");
        }
        finally
        {
            s_build.Release();
        }
    }

    /// <summary>Removes a container (or pod) whatever its state; for finally blocks.</summary>
    public static void Remove(string name, bool pod = false) => Run(pod ? ["pod", "rm", "--force", "--time", "10", name] : ["rm", "--force", "--time", "10", name]);

    /// <summary>A name unique to this test run.</summary>
    public static string Name(string what) => $"bpf-agent-test-{what}-{Environment.ProcessId}-{Guid.NewGuid():N}"[..48];

    private static string? Missing()
    {
        string[] missing = [.. s_tools.Where(c => PrometheusServer.FindBinary(c) is null)];
        return missing.Length == 0 ? null : $"{string.Join(", ", missing)} not installed (make test installs them: scripts/setup-host.sh with WITH_CONTAINERS=1)";
    }

    private static string WriteConf()
    {
        string dir = Path.Combine(Paths.Root, "build", "containers");
        Directory.CreateDirectory(dir);
        string file = Path.Combine(dir, "containers.conf");
        string conf = """
            # Written by the tests (tests/Agent.Tests/Infrastructure/Podman.cs): podman and buildah on this kind of machine.
            [containers]
            # No CAP_SYS_RESOURCE: the defaults (nofile 1048576) cannot be set.
            default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]

            [engine]
            cgroup_manager = "cgroupfs"
            runtime = "runc"
            events_logger = "file"
            """;
        if (!File.Exists(file) || File.ReadAllText(file) != conf)
        {
            File.WriteAllText(file, conf);
        }

        return file;
    }
}
