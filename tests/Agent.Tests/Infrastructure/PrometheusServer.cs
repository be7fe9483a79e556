using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace BpfAgent.Tests;

/// <summary>
/// A real Prometheus server (Debian's `prometheus`) on a free loopback port, scraping one target every second,
/// with its TSDB in a temp directory. Dispose kills it and removes the directory.
/// </summary>
public sealed class PrometheusServer : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;
    private readonly StringBuilder _log = new();
    private readonly Lock _lock = new();

    private PrometheusServer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Url = $"http://127.0.0.1:{port}";
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public const string Job = "bpf-agent";

    public string Url { get; }

    public string Log
    {
        get
        {
            lock (_lock)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>The prometheus binary, or null when it is not installed (`make test`'s setup installs it).</summary>
    public static string? FindBinary(string name = "prometheus")
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Append("/usr/bin"))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>
    /// Starts Prometheus scraping <paramref name="target"/> (host:port) every second and waits until it is ready.
    /// <paramref name="jobOptions"/> are more YAML lines of the scrape job (scheme, tls_config, basic_auth...).
    /// </summary>
    public static async Task<PrometheusServer> StartAsync(string target, string? jobOptions = null)
    {
        string binary = FindBinary() ?? throw new InvalidOperationException("prometheus is not installed; `make test` installs it (Debian package prometheus)");
        string directory = Directory.CreateTempSubdirectory("bpf-agent-prometheus-").FullName;
        string config = Path.Combine(directory, "prometheus.yml");
        File.WriteAllText(config, $"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            scrape_configs:
              - job_name: {Job}
            {Indent(jobOptions)}
                static_configs:
                  - targets: ['{target}']
            """);
        int port = TestConfig.FreePort();
        var psi = new ProcessStartInfo(binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in new[]
                 {
                     $"--config.file={config}", $"--storage.tsdb.path={Path.Combine(directory, "data")}",
                     $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",
                 })
        {
            psi.ArgumentList.Add(a);
        }

        var server = new PrometheusServer(Process.Start(psi)!, directory, port);
        try
        {
            await server.WaitReadyAsync(TimeSpan.FromSeconds(20));
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private static string Indent(string? lines) =>
        string.Join('\n', (lines ?? "").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => "    " + l));

    private async Task WaitReadyAsync(TimeSpan timeout)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout && !_process.HasExited)
        {
            try
            {
                using HttpResponseMessage r = await http.GetAsync(Url + "/-/ready");
                if (r.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new InvalidOperationException($"Prometheus was not ready within {timeout} (exited: {_process.HasExited}):\n{Log}");
    }

    /// <summary>GET /api/v1/&lt;path&gt; and return the "data" member after checking "status" is "success".</summary>
    public async Task<JsonElement> ApiAsync(string pathAndQuery)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        string body = await http.GetStringAsync(Url + "/api/v1/" + pathAndQuery);
        using JsonDocument doc = JsonDocument.Parse(body);
        Assert.Equal("success", doc.RootElement.GetProperty("status").GetString());
        return doc.RootElement.GetProperty("data").Clone();
    }

    /// <summary>An instant query: each series' labels and value.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promql)
    {
        JsonElement data = await ApiAsync("query?query=" + Uri.EscapeDataString(promql));
        Assert.Equal("vector", data.GetProperty("resultType").GetString());
        var list = new List<(IReadOnlyDictionary<string, string>, double)>();
        foreach (JsonElement r in data.GetProperty("result").EnumerateArray())
        {
            var labels = r.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
            double value = double.Parse(r.GetProperty("value")[1].GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            list.Add((labels, value));
        }

        return list;
    }

    /// <summary>Queries until <paramref name="done"/> holds or <paramref name="timeout"/> passes; returns the last answer.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryUntilAsync(
        string promql, Func<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>, bool> done, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)> result = await QueryAsync(promql);
        while (!done(result) && sw.Elapsed < timeout)
        {
            await Task.Delay(250);
            result = await QueryAsync(promql);
        }

        return result;
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                _log.AppendLine(line);
            }
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
