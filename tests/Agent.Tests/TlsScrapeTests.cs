using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace BpfAgent.Tests;

/// <summary>
/// The agent behind its web config, as a remote Prometheus meets it: HTTPS with a client certificate required and
/// basic auth. A real Prometheus scrapes it (scheme https, tls_config, basic_auth) and gets the sets' series; wrong
/// or missing credentials are 401; a client without a certificate from the client CA is refused in the handshake;
/// a certificate renewed on disk is served from the next handshake on, without a restart.
/// </summary>
public sealed class TlsScrapeTests
{
    private const string User = "prometheus";
    private const string Password = "scrape-me";

    [KernelFact]
    public async Task Prometheus_scrapes_over_tls_with_a_client_certificate_and_basic_auth_and_everyone_else_is_refused()
    {
        using var pki = new TestCertificates();
        pki.WritePair("server", pki.Issue("bpf-agent one", server: true));
        using System.Security.Cryptography.X509Certificates.X509Certificate2 client = pki.Issue("prometheus", server: false);
        (string clientCert, string clientKey) = pki.WritePair("client", client);
        string web = pki.Write("web.yml", $"""
            tls_server_config:
              cert_file: server.pem
              key_file: server.key
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.pem
            http_server_config:
              headers:
                X-Content-Type-Options: nosniff
            basic_auth_users:
              {User}: {BCrypt.Net.BCrypt.HashPassword(Password, 10)}
            """);

        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: Environment.ProcessId));
        string url = $"https://127.0.0.1:{config.Port}";
        using var agent = AgentProcess.StartWithConfig(config, null, "--web.config.file", web, $"--Agent:Listen={url}");
        using TlsClient scraper = pki.Client(client, User, Password);
        await WaitUpAsync(agent, scraper, url);

        using PrometheusServer prometheus = await PrometheusServer.StartAsync($"127.0.0.1:{config.Port}", $"""
            scheme: https
            tls_config:
              ca_file: {pki.CaFile}
              cert_file: {clientCert}
              key_file: {clientKey}
            basic_auth:
              username: {User}
              password: {Password}
            """);
        const int Execs = 3;
        TestChildren.Run(TestChildren.True, Execs);
        string job = PrometheusServer.Job;
        var execs = await prometheus.QueryUntilAsync($"exec_events_total{{job=\"{job}\",comm=\"true\"}}", r => r.Count == 1 && r[0].Value >= Execs, TimeSpan.FromSeconds(20));
        Assert.True(execs.Count == 1, $"Prometheus has no exec_events_total over TLS; targets: {await prometheus.ApiAsync("targets")}\nlog:\n{prometheus.Log}");
        Assert.Equal(Execs, execs[0].Value);
        JsonElement target = Assert.Single((await prometheus.ApiAsync("targets?state=active")).GetProperty("activeTargets").EnumerateArray());
        Assert.Equal(("up", ""), (target.GetProperty("health").GetString(), target.GetProperty("lastError").GetString()));
        Assert.StartsWith("https://", target.GetProperty("scrapeUrl").GetString(), StringComparison.Ordinal);

        // The right client: metrics, the detailed health report, the configured header.
        using (HttpResponseMessage ok = await scraper.GetAsync(url + "/metrics"))
        {
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("nosniff", ok.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Contains("exec_events_total{comm=\"true\"}", await ok.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Contains("\"sets\"", await (await scraper.GetAsync(url + "/healthz")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // A certificate from the CA but the wrong password, or none: 401 with a Basic challenge, on every endpoint
        // but an anonymous /healthz, which says only whether the agent is up.
        using (TlsClient wrong = pki.Client(client, User, "guess"))
        using (TlsClient anonymous = pki.Client(client))
        {
            foreach ((TlsClient c, string path) in new[] { (wrong, "/metrics"), (wrong, "/"), (wrong, "/healthz"), (anonymous, "/metrics"), (anonymous, "/") })
            {
                using HttpResponseMessage r = await c.GetAsync(url + path);
                Assert.True(r.StatusCode == HttpStatusCode.Unauthorized, $"{path}: {(int)r.StatusCode}");
                Assert.Equal("Basic", r.Headers.WwwAuthenticate.Single().Scheme);
            }

            using HttpResponseMessage probe = await anonymous.GetAsync(url + "/healthz");
            Assert.Equal(HttpStatusCode.OK, probe.StatusCode);
            Assert.Equal("""{"status":"up"}""", JsonSerializer.Serialize(JsonDocument.Parse(await probe.Content.ReadAsStringAsync()).RootElement));
        }

        // No client certificate, or one from another CA: the handshake fails, whatever the password.
        using (var otherPki = new TestCertificates("another CA"))
        using (System.Security.Cryptography.X509Certificates.X509Certificate2 stranger = otherPki.Issue("stranger", server: false))
        using (TlsClient noCert = pki.Client(null, User, Password))
        using (TlsClient otherCa = pki.Client(stranger, User, Password))
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => noCert.GetAsync(url + "/metrics"));
            await Assert.ThrowsAsync<HttpRequestException>(() => otherCa.GetAsync(url + "/healthz"));
        }

        string text = await (await scraper.GetAsync(url + "/metrics")).Content.ReadAsStringAsync();
        Assert.True(MetricSamples.Sum(text, "bpf_agent_http_requests_refused_total", ("reason", "client_certificate")) >= 2, text);
        Assert.True(MetricSamples.Sum(text, "bpf_agent_http_requests_refused_total", ("reason", "bad_credentials")) >= 3, text);
        Assert.True(MetricSamples.Sum(text, "bpf_agent_http_requests_refused_total", ("reason", "no_credentials")) >= 2, text);
        // Two passwords were ever checked by bcrypt (the right one and "guess"); every other request hit the cache.
        Assert.Equal(2, MetricSamples.Sum(text, "bpf_agent_http_password_checks_total"));

        // Renewal on disk: the next handshake serves the new certificate. A renewal caught half-written (the new
        // certificate beside the old key) keeps the last good one until the key follows.
        Assert.Equal("CN=bpf-agent one", scraper.LastServerCertificate!.Subject);
        pki.WritePair("server", pki.Issue("bpf-agent two", server: true));
        (await scraper.GetAsync(url + "/healthz")).Dispose();
        Assert.Equal("CN=bpf-agent two", scraper.LastServerCertificate!.Subject);

        using System.Security.Cryptography.X509Certificates.X509Certificate2 three = pki.Issue("bpf-agent three", server: true);
        string oldKey = File.ReadAllText(Path.Combine(pki.Directory, "server.key"));
        pki.WritePair("server", three);
        string newKey = File.ReadAllText(Path.Combine(pki.Directory, "server.key"));
        pki.Write("server.key", oldKey);
        (await scraper.GetAsync(url + "/healthz")).Dispose();
        Assert.Equal("CN=bpf-agent two", scraper.LastServerCertificate!.Subject);
        Assert.True(await agent.WaitForOutputAsync("changed on disk but does not load", TimeSpan.FromSeconds(5)), agent.Output);
        pki.Write("server.key", newKey);
        text = await (await scraper.GetAsync(url + "/metrics")).Content.ReadAsStringAsync();
        Assert.Equal("CN=bpf-agent three", scraper.LastServerCertificate!.Subject);
        Assert.Equal(2, MetricSamples.Sum(text, "bpf_agent_tls_certificate_reloads_total"));
        Assert.Equal(three.NotAfter.ToUniversalTime(), DateTimeOffset.FromUnixTimeSeconds((long)MetricSamples.Sum(text, "bpf_agent_tls_certificate_expiry_timestamp_seconds")).UtcDateTime, TimeSpan.FromSeconds(1));

        // Prometheus (which trusts the CA, not one certificate) goes on scraping across the renewals.
        var up = await prometheus.QueryUntilAsync($"up{{job=\"{job}\"}} and on() (time() - timestamp(up{{job=\"{job}\"}}) < 2)", r => r.Count == 1, TimeSpan.FromSeconds(10));
        Assert.Equal(1, Assert.Single(up).Value);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(10)));
    }

    /// <summary>Waits until GET /healthz over <paramref name="client"/> answers 200; fails with the agent's output otherwise.</summary>
    internal static async Task WaitUpAsync(AgentProcess agent, TlsClient client, string url)
    {
        var sw = Stopwatch.StartNew();
        string last = "";
        while (sw.Elapsed < TimeSpan.FromSeconds(30) && !agent.HasExited)
        {
            try
            {
                using HttpResponseMessage r = await client.GetAsync(url + "/healthz");
                if (r.StatusCode == HttpStatusCode.OK)
                {
                    return;
                }

                last = $"{(int)r.StatusCode} {await r.Content.ReadAsStringAsync()}";
            }
            catch (HttpRequestException e)
            {
                last = e.Message;
            }
            catch (TaskCanceledException e)
            {
                last = e.Message;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"{url}/healthz did not answer 200 (last: {last}; exited: {agent.HasExited}); output:\n{agent.Output}");
    }
}
