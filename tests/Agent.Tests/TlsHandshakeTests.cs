using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using BpfAgent.Configuration;
using BpfAgent.Web;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// The TLS keys of a web config, honoured in real handshakes over loopback (the agent's own per-connection
/// options on one side, .NET's SslStream client on the other): versions, TLS 1.2 cipher suites, HTTP/2 by ALPN,
/// client_allowed_sans; and the headers and rate limit on responses.
/// </summary>
public sealed class TlsHandshakeTests : IDisposable
{
    private readonly TestCertificates _pki = new();

    public TlsHandshakeTests() => _pki.WritePair("server", _pki.Issue("bpf-agent", server: true));

    public void Dispose() => _pki.Dispose();

    private TlsEndpoint Endpoint(string tlsLines, string http = "")
    {
        string yaml = $"tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n{tlsLines}{http}";
        var errors = new List<ConfigError>();
        WebConfig? web = WebConfigReader.Parse(_pki.Write("web.yml", yaml), yaml, errors);
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        return new TlsEndpoint(web!, new WebMetrics(), NullLogger.Instance);
    }

    /// <summary>One handshake; the client's view of it, or the exception that ended it.</summary>
    private async Task<(SslProtocols Protocol, TlsCipherSuite Suite, string Alpn)> HandshakeAsync(TlsEndpoint endpoint, SslProtocols client,
        X509Certificate2? clientCert = null, params SslApplicationProtocol[] alpn)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using Socket accepted = await listener.AcceptSocketAsync();
        await using var serverStream = new SslStream(new NetworkStream(accepted, ownsSocket: false));
        await using var clientStream = new SslStream(tcp.GetStream());
        Task server = serverStream.AuthenticateAsServerAsync(endpoint.ForConnection());
        Task clientTask = clientStream.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = "127.0.0.1",
            EnabledSslProtocols = client,
            RemoteCertificateValidationCallback = (_, cert, _, _) => _pki.Trusts(cert),
            ClientCertificates = clientCert is null ? null : [clientCert],
            ApplicationProtocols = alpn.Length == 0 ? null : [.. alpn],
        });
        try
        {
            await Task.WhenAll(server, clientTask);
            // TLS 1.3 settles the client certificate after the client's handshake: one exchange makes it final.
            await clientStream.WriteAsync(new byte[] { 1 });
            byte[] one = new byte[1];
            _ = await serverStream.ReadAsync(one);
        }
        catch
        {
            accepted.Close();
            throw;
        }

        return (clientStream.SslProtocol, clientStream.NegotiatedCipherSuite, clientStream.NegotiatedApplicationProtocol.ToString());
    }

    [Fact]
    public async Task Versions_cipher_suites_and_http2_are_as_the_web_config_says()
    {
        TlsEndpoint defaults = Endpoint("");
        Assert.Equal(SslProtocols.Tls13, (await HandshakeAsync(defaults, SslProtocols.Tls12 | SslProtocols.Tls13)).Protocol);
        Assert.Equal(SslProtocols.Tls12, (await HandshakeAsync(defaults, SslProtocols.Tls12)).Protocol);
        Assert.Equal("h2", (await HandshakeAsync(defaults, SslProtocols.Tls13, null, SslApplicationProtocol.Http2, SslApplicationProtocol.Http11)).Alpn);

        TlsEndpoint tls13 = Endpoint("  min_version: TLS13\n");
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(tls13, SslProtocols.Tls12));

        TlsEndpoint tls12 = Endpoint("  max_version: TLS12\n  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]\n");
        (SslProtocols protocol, TlsCipherSuite suite, _) = await HandshakeAsync(tls12, SslProtocols.Tls12 | SslProtocols.Tls13);
        Assert.Equal((SslProtocols.Tls12, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), (protocol, suite));

        TlsEndpoint http1 = Endpoint("", "http_server_config:\n  http2: false\n");
        Assert.Equal("http/1.1", (await HandshakeAsync(http1, SslProtocols.Tls13, null, SslApplicationProtocol.Http2, SslApplicationProtocol.Http11)).Alpn);
    }

    [Fact]
    public async Task Client_allowed_sans_admits_a_certificate_naming_one_and_refuses_the_others()
    {
        TlsEndpoint endpoint = Endpoint("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [prometheus.monitoring.svc]\n");
        using X509Certificate2 allowed = _pki.Issue("scraper", server: false, sans: ["prometheus.monitoring.svc"]);
        using X509Certificate2 other = _pki.Issue("scraper", server: false, sans: ["grafana.monitoring.svc"]);
        _ = await HandshakeAsync(endpoint, SslProtocols.Tls12, allowed);
        _ = await HandshakeAsync(endpoint, SslProtocols.Tls13, allowed);
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(endpoint, SslProtocols.Tls12, other));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(endpoint, SslProtocols.Tls13, other));
        await Assert.ThrowsAnyAsync<Exception>(() => HandshakeAsync(endpoint, SslProtocols.Tls13));
    }

    [Fact]
    public async Task Headers_are_added_to_every_response_and_the_rate_limit_answers_429_past_its_burst()
    {
        string yaml = "http_server_config:\n  headers:\n    X-Frame-Options: deny\nrate_limit:\n  interval: 1h\n  burst: 2\n";
        var errors = new List<ConfigError>();
        WebConfig web = WebConfigReader.Parse(_pki.Write("web.yml", yaml), yaml, errors)!;
        using var metrics = new WebMetrics();
        var limits = new ResponseLimits(web, metrics);
        int served = 0;
        var statuses = new List<int>();
        for (int i = 0; i < 4; i++)
        {
            var context = new DefaultHttpContext();
            await limits.InvokeAsync(context, _ =>
            {
                served++;
                return Task.CompletedTask;
            });
            Assert.Equal("deny", context.Response.Headers["X-Frame-Options"].ToString());
            statuses.Add(context.Response.StatusCode);
        }

        Assert.Equal([200, 200, 429, 429], statuses);
        Assert.Equal(2, served);
    }
}
