using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace BpfAgent.Tests;

/// <summary>
/// deploy/grafana/bpf-agent.json against the real thing: the agent runs every shipped set behind a web config
/// (TLS and basic auth, so the certificate panel has its series), a real Prometheus scrapes it while the test makes
/// execs, system calls, fsync'd disk writes, loopback TCP connections and scheduler wake-ups, and every PromQL
/// expression of every panel (Grafana's variables replaced as Grafana would) answers without error and with a
/// finite value; each variable's label_values query finds values.
/// </summary>
public sealed partial class DashboardTests
{
    private const string User = "grafana";
    private const string Password = "dashboards";

    public static string DashboardFile => Path.Combine(Paths.Root, "deploy", "grafana", "bpf-agent.json");

    [Fact]
    public void The_dashboard_is_one_well_formed_grafana_dashboard_whose_panels_all_query_the_chosen_data_source()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        JsonElement root = doc.RootElement;
        Assert.Equal("bpf-agent", root.GetProperty("uid").GetString());
        var panels = Panels(root).ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        foreach (JsonElement p in panels.Where(p => p.GetProperty("type").GetString() != "row"))
        {
            string title = p.GetProperty("title").GetString()!;
            Assert.True(p.GetProperty("datasource").GetProperty("uid").GetString() == "${datasource}", $"panel '{title}' does not use the data source variable");
            Assert.True(p.GetProperty("targets").GetArrayLength() > 0, $"panel '{title}' has no query");
            JsonElement pos = p.GetProperty("gridPos");
            Assert.True(pos.GetProperty("x").GetInt32() + pos.GetProperty("w").GetInt32() <= 24, $"panel '{title}' is wider than the grid");
        }

        string[] variables = [.. root.GetProperty("templating").GetProperty("list").EnumerateArray().Select(v => v.GetProperty("name").GetString()!)];
        Assert.Equal(["datasource", "job", "instance"], variables);
        foreach (string expr in Expressions(root))
        {
            foreach (Match m in Variable().Matches(expr))
            {
                Assert.True(m.Value is "$__rate_interval" or "$__range" or "$job" or "$instance", $"{expr} uses {m.Value}, which the test does not know");
            }
        }
    }

    [KernelFact]
    public async Task Every_query_of_the_dashboard_answers_with_data_from_a_prometheus_scraping_the_shipped_sets_under_load()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(DashboardFile));
        var queries = Expressions(doc.RootElement).Distinct().ToDictionary(e => e, Substitute);
        Assert.True(queries.Count >= 30, $"only {queries.Count} queries found in {DashboardFile}");

        using var pki = new TestCertificates();
        pki.WritePair("server", pki.Issue("bpf-agent", server: true));
        string web = pki.Write("web.yml", $"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  {User}: {BCrypt.Net.BCrypt.HashPassword(Password, 4)}\n");
        using var config = new TestConfig();
        foreach (string shipped in Directory.GetFiles(Path.Combine(Paths.ShippedConfig, "programs.d"), "*.json"))
        {
            string set = Path.GetFileNameWithoutExtension(shipped);
            config.AddSet(set, ProgramSetJson.AsShipped(set));
        }

        string url = $"https://127.0.0.1:{config.Port}";
        using var agent = AgentProcess.StartWithConfig(config, null, $"--Agent:WebConfigFile={web}", $"--Agent:Listen={url}");
        using TlsClient client = pki.Client(null, User, Password);
        await TlsScrapeTests.WaitUpAsync(agent, client, url);
        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}", $"""
            scheme: https
            tls_config:
              ca_file: {pki.CaFile}
            basic_auth:
              username: {User}
              password: {Password}
            """);

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        Task load = Task.Run(() => Workload(stop.Token));
        var pending = new Dictionary<string, string>(queries.Count);
        foreach (string e in queries.Keys)
        {
            pending[e] = "not asked yet";
        }

        var sw = Stopwatch.StartNew();
        try
        {
            while (pending.Count > 0 && sw.Elapsed < TimeSpan.FromSeconds(45))
            {
                foreach (string expr in pending.Keys.ToList())
                {
                    string? problem = await ProblemAsync(prometheus, queries[expr]);
                    if (problem is null)
                    {
                        pending.Remove(expr);
                    }
                    else
                    {
                        pending[expr] = problem;
                    }
                }

                await Task.Delay(1000);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await load;
        }

        Assert.True(pending.Count == 0, $"{pending.Count} of {queries.Count} dashboard queries had no data after {sw.Elapsed.TotalSeconds:F0} s:\n"
            + string.Join("\n", pending.Select(p => $"  {queries[p.Key]}\n    -> {p.Value}")));

        // The variables: label_values(metric, label) finds the job and the instance.
        foreach (string label in new[] { "job", "instance" })
        {
            JsonElement values = await prometheus.ApiAsync($"label/{label}/values?match[]={Uri.EscapeDataString("bpf_agent_build_info")}");
            Assert.True(values.GetArrayLength() > 0, $"label_values(bpf_agent_build_info, {label}) is empty");
        }
    }

    /// <summary>Null when the instant query succeeds with at least one finite value; else what went wrong.</summary>
    private static async Task<string?> ProblemAsync(PrometheusServer prometheus, string promql)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using HttpResponseMessage r = await http.GetAsync($"{prometheus.Url}/api/v1/query?query={Uri.EscapeDataString(promql)}");
        string body = await r.Content.ReadAsStringAsync();
        using JsonDocument doc = JsonDocument.Parse(body);
        if (doc.RootElement.GetProperty("status").GetString() != "success")
        {
            return $"error: {doc.RootElement.GetProperty("error").GetString()}";
        }

        JsonElement result = doc.RootElement.GetProperty("data").GetProperty("result");
        if (result.GetArrayLength() == 0)
        {
            return "no series";
        }

        bool finite = result.EnumerateArray().Any(s => double.TryParse(s.GetProperty("value")[1].GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && double.IsFinite(v));
        return finite ? null : $"{result.GetArrayLength()} series, none with a finite value (NaN: no events in the window)";
    }

    /// <summary>Grafana's variables as Grafana fills them for a 1 s scrape interval and "All" selected.</summary>
    private static string Substitute(string expr) => expr
        .Replace("$__rate_interval", "10s", StringComparison.Ordinal)
        .Replace("$__range", "1m", StringComparison.Ordinal)
        .Replace("$job", ".+", StringComparison.Ordinal)
        .Replace("$instance", ".+", StringComparison.Ordinal);

    /// <summary>What the panels show, made here: execs, system calls, fsync'd writes to disk, loopback TCP connections, wake-ups.</summary>
    private static void Workload(CancellationToken stop)
    {
        string file = Path.Combine(Paths.Root, "build", $"dashboard-test-{Guid.NewGuid():N}");
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        byte[] block = new byte[16 * 1024];
        try
        {
            using var stream = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None);
            for (int round = 0; round < 2000 && !stop.IsCancellationRequested; round++)
            {
                TestChildren.Run(TestChildren.True, 1);
                stream.Write(block);
                stream.Flush(flushToDisk: true);
                using (var c = new TcpClient())
                {
                    c.Connect(IPAddress.Loopback, port);
                    using Socket s = listener.AcceptSocket();
                }

                Thread.Sleep(50); // sleeps and wake-ups for the run queue
            }
        }
        finally
        {
            listener.Stop();
            File.Delete(file);
        }
    }

    private static IEnumerable<JsonElement> Panels(JsonElement root)
    {
        foreach (JsonElement p in root.GetProperty("panels").EnumerateArray())
        {
            yield return p;
            if (p.TryGetProperty("panels", out JsonElement nested))
            {
                foreach (JsonElement n in nested.EnumerateArray())
                {
                    yield return n;
                }
            }
        }
    }

    internal static IEnumerable<string> Expressions(JsonElement root) =>
        Panels(root).Where(p => p.TryGetProperty("targets", out _))
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!);

    [GeneratedRegex(@"\$\{?[A-Za-z_]+\}?")]
    private static partial Regex Variable();
}
