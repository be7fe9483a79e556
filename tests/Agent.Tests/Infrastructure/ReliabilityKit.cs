using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace BpfAgent.Tests;

/// <summary>
/// A dedicated thread that calls getppid(2) on request: the flood test programs (tests/Agent.Tests/bpf/flood.bpf.c)
/// fire only for this thread's tid, so the test knows exactly how many times they ran.
/// </summary>
public sealed class SyscallTrigger : IDisposable
{
    private readonly Thread _thread;
    private readonly BlockingCollection<Work> _work = new();
    private readonly ManualResetEventSlim _started = new();
    private volatile bool _continuous;
    private long _fired;
    private int _tid;

    public SyscallTrigger()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "getppid-trigger" };
        _thread.Start();
        _started.Wait();
    }

    /// <summary>The kernel thread id (what bpf_get_current_pid_tgid() returns in its low 32 bits).</summary>
    public int Tid => _tid;

    /// <summary>getppid calls made so far.</summary>
    public long Fired => Interlocked.Read(ref _fired);

    /// <summary>Makes exactly <paramref name="count"/> getppid calls on the trigger thread and waits for them.</summary>
    public void Fire(int count) => Submit(new Work(count, 0, Continuous: false)).GetAwaiter().GetResult();

    /// <summary>
    /// Calls getppid in batches of <paramref name="perBatch"/>, <paramref name="pauseMs"/> apart, until
    /// <see cref="StopContinuous"/>; <see cref="Fired"/> counts them.
    /// </summary>
    public void StartContinuous(int perBatch, int pauseMs)
    {
        _continuous = true;
        _ = Submit(new Work(perBatch, pauseMs, Continuous: true));
    }

    /// <summary>Ends a continuous run and returns once the trigger thread is idle.</summary>
    public void StopContinuous()
    {
        _continuous = false;
        Fire(0);
    }

    private Task Submit(Work work)
    {
        _work.Add(work);
        return work.Done.Task;
    }

    private void Run()
    {
        _tid = (int)Tmds.Linux.LibC.syscall(RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? 178 : 186); // gettid
        _started.Set();
        foreach (Work w in _work.GetConsumingEnumerable())
        {
            do
            {
                for (int i = 0; i < w.Count; i++)
                {
                    _ = Tmds.Linux.LibC.getppid();
                }

                Interlocked.Add(ref _fired, w.Count);
                if (w.Continuous && w.PauseMs > 0)
                {
                    Thread.Sleep(w.PauseMs);
                }
            }
            while (w.Continuous && _continuous);

            w.Done.SetResult();
        }
    }

    public void Dispose()
    {
        _continuous = false;
        _work.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
        _work.Dispose();
        _started.Dispose();
    }

    private sealed record Work(int Count, int PauseMs, bool Continuous)
    {
        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}

/// <summary>Config files for the reliability tests: agent.json with chosen settings and the flood program sets.</summary>
public static class ReliabilityConfig
{
    public static string FloodObject => Paths.TestObject("flood");

    /// <summary>
    /// agent.json on <paramref name="config"/>'s port and pin root with <paramref name="agent"/> settings merged over
    /// the defaults (KeepPinsOnExit false, no directory watching: reloads come from SIGHUP only, so each is counted once).
    /// </summary>
    public static void WriteAgentJson(TestConfig config, IDictionary<string, object>? agent = null, IDictionary<string, string>? logOverrides = null)
    {
        var settings = new Dictionary<string, object>
        {
            ["Listen"] = config.Url,
            ["PinRoot"] = config.PinRoot,
            ["KeepPinsOnExit"] = false,
            ["WatchConfigDirectory"] = false,
        };
        foreach ((string k, object v) in agent ?? new Dictionary<string, object>())
        {
            settings[k] = v;
        }

        var overrides = new Dictionary<string, string> { ["Microsoft"] = "Warning" };
        foreach ((string k, string v) in logOverrides ?? new Dictionary<string, string>())
        {
            overrides[k] = v;
        }

        var doc = new Dictionary<string, object>
        {
            ["Agent"] = settings,
            ["Serilog"] = new Dictionary<string, object> { ["MinimumLevel"] = new Dictionary<string, object> { ["Default"] = "Information", ["Override"] = overrides } },
        };
        File.WriteAllText(Path.Combine(config.Directory, "agent.json"), System.Text.Json.JsonSerializer.Serialize(doc));
    }

    /// <summary>
    /// A set running one program of flood.bpf.o for thread <paramref name="tid"/>, reading that program's ring
    /// (flood -> flood_events, flood_wide -> wide_events, flood_short -> short_events). <paramref name="metrics"/> is the
    /// ring's JSON metrics array (default: one sample counter named flood_samples_total); <paramref name="extra"/> is
    /// more top-level JSON members, each followed by a comma.
    /// </summary>
    public static string FloodSet(int tid, int burst, string program = "flood", string? structName = null, long generation = 0,
        int modulo = 0, string? metrics = null, string extra = "", string? objectPath = null)
    {
        string ring = RingOf(program);
        string s = structName ?? (program == "flood_short" ? "short_event" : "flood_event");
        string obj = System.Text.Json.JsonSerializer.Serialize(objectPath ?? FloodObject);
        return $$"""
            {
              "object": {{obj}},
              "programs": [ "{{program}}" ],
              "parameters": { "target_tid": {{tid}}, "burst": {{burst}}, "modulo": {{modulo}}, "generation": {{generation}} },
              {{extra}}
              "ringBuffers": [
                {
                  "map": "{{ring}}",
                  "struct": "{{s}}",
                  "metrics": {{metrics ?? "[ { \"name\": \"flood_samples_total\", \"type\": \"counter\" } ]"}}
                }
              ]
            }
            """;
    }

    public static string RingOf(string program) => program switch
    {
        "flood" => "flood_events",
        "flood_wide" => "wide_events",
        "flood_short" => "short_events",
        _ => throw new ArgumentException($"flood.bpf.o has no program {program}", nameof(program)),
    };

    /// <summary>The pin of <paramref name="map"/> of set <paramref name="set"/> (its name carries the schema hash).</summary>
    public static string? PinOf(TestConfig config, string set, string map)
    {
        string dir = Path.Combine(config.PinRoot, set);
        return Directory.Exists(dir) ? Directory.GetFiles(dir, map + "-*").SingleOrDefault() : null;
    }
}

/// <summary>The sample accounting of one ring from a scrape: every stage the agent reports.</summary>
public sealed record RingAccount(double Received, double Delivered, double Kernel, double Channel, double Decode)
{
    public static RingAccount Read(string text, string set, string ring) => new(
        MetricSamples.Sum(text, "bpf_agent_ring_samples_received_total", ("set", set), ("ring", ring)),
        MetricSamples.Sum(text, "bpf_agent_samples_delivered_total", ("set", set), ("ring", ring)),
        MetricSamples.Sum(text, "bpf_agent_samples_dropped_total", ("set", set), ("stage", "kernel")),
        MetricSamples.Sum(text, "bpf_agent_samples_dropped_total", ("set", set), ("ring", ring), ("stage", "channel")),
        MetricSamples.Sum(text, "bpf_agent_samples_dropped_total", ("set", set), ("ring", ring), ("stage", "decode")));

    /// <summary>Everything that left the ring is delivered or counted as dropped.</summary>
    public bool Settled => Received == Delivered + Channel + Decode;

    /// <summary>The ring's own counts (the kernel drop counter is per object, so per set).</summary>
    public string RingPart => $"received={Received} delivered={Delivered} dropped: channel={Channel} decode={Decode}";

    public override string ToString() =>
        $"received={Received} delivered={Delivered} dropped: kernel={Kernel} channel={Channel} decode={Decode}";
}

/// <summary>What /proc and the kernel say about a process and about BPF programs.</summary>
public static unsafe partial class ProcessFacts
{
    public static int FdCount(int pid) => Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length;

    /// <summary>
    /// What each open fd of <paramref name="pid"/> is, counted by kind ("anon_inode:bpf-map", "socket", a path...).
    /// Assemblies (*.dll) are counted by path: .NET maps each one it loads (once; some late, when tiered JIT first
    /// needs them), which is not a per-operation resource.
    /// </summary>
    public static IReadOnlyDictionary<string, int> FdKinds(int pid)
    {
        var kinds = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string fd in Directory.GetFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            if (target is null)
            {
                continue;
            }

            string kind = target.StartsWith("socket:", StringComparison.Ordinal) ? "socket"
                : target.StartsWith("pipe:", StringComparison.Ordinal) ? "pipe"
                : target;
            kinds[kind] = kinds.GetValueOrDefault(kind) + 1;
        }

        return kinds;
    }

    /// <summary>The fd kinds whose count differs, ignoring assemblies loaded for the first time (see <see cref="FdKinds"/>).</summary>
    public static string FdGrowth(IReadOnlyDictionary<string, int> before, IReadOnlyDictionary<string, int> after)
    {
        var diffs = new List<string>();
        foreach (string kind in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            int b = before.GetValueOrDefault(kind), a = after.GetValueOrDefault(kind);
            bool newAssembly = b == 0 && kind.EndsWith(".dll", StringComparison.Ordinal) && a <= 2;
            if (a != b && !newAssembly)
            {
                diffs.Add($"{kind}: {b} -> {a}");
            }
        }

        return string.Join("; ", diffs);
    }

    /// <summary>Resident set size in bytes (VmRSS).</summary>
    public static long RssBytes(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    /// <summary>Ids of the BPF programs <paramref name="pid"/> holds an fd of (the fd's fdinfo "prog_id:" line; links name theirs too).</summary>
    public static IReadOnlySet<uint> ProgramIdsHeldBy(int pid)
    {
        var ids = new HashSet<uint>();
        foreach (string fdinfo in Directory.GetFiles($"/proc/{pid}/fdinfo"))
        {
            string text;
            try
            {
                text = File.ReadAllText(fdinfo);
            }
            catch (IOException)
            {
                continue; // closed meanwhile
            }

            foreach (Match m in ProgId().Matches(text))
            {
                ids.Add(uint.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            }
        }

        return ids;
    }

    /// <summary>Loaded programs in the whole kernel whose name is in <paramref name="names"/>, by id.</summary>
    public static IReadOnlyDictionary<uint, string> LoadedProgramsNamed(params string[] names)
    {
        var found = new Dictionary<uint, string>();
        foreach (uint id in Bpf.BpfSystem.GetLoadedProgramIds())
        {
            string? name = ProgramName(id);
            if (name is not null && names.Contains(name))
            {
                found[id] = name;
            }
        }

        return found;
    }

    /// <summary>The kernel name of program <paramref name="id"/>, or null when it is gone.</summary>
    public static string? ProgramName(uint id)
    {
        int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            const int InfoSize = 232;
            byte* info = stackalloc byte[InfoSize];
            new Span<byte>(info, InfoSize).Clear();
            uint len = InfoSize;
            if (bpf_obj_get_info_by_fd(fd, info, &len) != 0)
            {
                return null;
            }

            var name = new ReadOnlySpan<byte>(info + 64, 16);
            int nul = name.IndexOf((byte)0);
            return System.Text.Encoding.UTF8.GetString(nul < 0 ? name : name[..nul]);
        }
        finally
        {
            _ = Tmds.Linux.LibC.close(fd);
        }
    }

    /// <summary>The sum over CPUs of entry 0 of a pinned per-CPU array of u64 (bpf_agent_drops, flood_attempts).</summary>
    public static long ReadPinnedPerCpuSum(string pinPath)
    {
        int fd;
        fixed (byte* p = System.Text.Encoding.UTF8.GetBytes(pinPath + "\0"))
        {
            fd = bpf_obj_get(p);
        }

        if (fd < 0)
        {
            throw new IOException($"{pinPath}: bpf_obj_get failed ({fd})");
        }

        try
        {
            int cpus = libbpf_num_possible_cpus();
            ulong* values = stackalloc ulong[cpus];
            uint key = 0;
            if (bpf_map_lookup_elem(fd, &key, values) != 0)
            {
                throw new IOException($"{pinPath}: lookup failed");
            }

            ulong sum = 0;
            for (int i = 0; i < cpus; i++)
            {
                sum += values[i];
            }

            return (long)sum;
        }
        finally
        {
            _ = Tmds.Linux.LibC.close(fd);
        }
    }

    /// <summary>Waits (bounded) until <paramref name="condition"/> holds; returns whether it did.</summary>
    public static bool WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout)
            {
                return false;
            }

            Thread.Sleep(20);
        }

        return true;
    }

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_prog_get_fd_by_id(uint id);

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_obj_get_info_by_fd(int fd, void* info, uint* len);

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_obj_get(byte* path);

    [LibraryImport("libbpf.so.1")]
    private static partial int bpf_map_lookup_elem(int fd, void* key, void* value);

    [LibraryImport("libbpf.so.1")]
    private static partial int libbpf_num_possible_cpus();

    [GeneratedRegex(@"^prog_id:\s*(\d+)", RegexOptions.Multiline)]
    private static partial Regex ProgId();
}

/// <summary>Helpers over an agent's captured output.</summary>
public static class AgentOutput
{
    public static int Count(string output, string text)
    {
        int n = 0;
        for (int i = output.IndexOf(text, StringComparison.Ordinal); i >= 0; i = output.IndexOf(text, i + text.Length, StringComparison.Ordinal))
        {
            n++;
        }

        return n;
    }

    /// <summary>Waits until <paramref name="text"/> occurs at least <paramref name="times"/> times in the output.</summary>
    public static async Task<bool> WaitForCountAsync(AgentProcess agent, string text, int times, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (Count(agent.Output, text) >= times)
            {
                return true;
            }

            if (agent.HasExited)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return false;
    }

    /// <summary>Sends SIGHUP (reload).</summary>
    public static void Hangup(AgentProcess agent) => _ = Tmds.Linux.LibC.kill(agent.Pid, Tmds.Linux.LibC.SIGHUP);
}

/// <summary>
/// The agent started through a wrapper command (unshare, setpriv...), its output captured. Dispose sends SIGTERM (the
/// wrappers exec the agent, so the pid is the agent's), then SIGKILL if it must.
/// </summary>
public sealed class WrappedAgent : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();
    private readonly Lock _lock = new();

    public WrappedAgent(string file, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("WATCHDOG_USEC");
        foreach ((string k, string v) in environment ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }

        _process = Process.Start(psi)!;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code, or null when it did not exit within <paramref name="timeout"/>.</summary>
    public int? WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return null;
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    /// <summary>GET /healthz until it answers (any status); the status and body, or null if it exited or time ran out.</summary>
    public async Task<(System.Net.HttpStatusCode Status, string Body)?> WaitForHealthAsync(string url, TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout && !_process.HasExited)
        {
            try
            {
                using HttpResponseMessage r = await http.GetAsync(url + "/healthz");
                return (r.StatusCode, await r.Content.ReadAsStringAsync());
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        return null;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                _output.AppendLine(line);
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _ = Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);
            if (!_process.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit();
            }
        }

        _process.Dispose();
    }
}
