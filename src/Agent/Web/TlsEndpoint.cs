using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using BpfAgent.Configuration;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Web;

/// <summary>
/// The HTTPS listener of tls_server_config: each handshake gets its options afresh, so a certificate, key or
/// client CA renewed on disk is used from the next connection on; TLS versions, TLS 1.2 cipher suites, HTTP/2 and
/// the client certificate policy are as the web config says.
/// </summary>
public sealed class TlsEndpoint
{
    private readonly TlsServerConfig _tls;
    private readonly bool _http2;
    private readonly ReloadingPem<ServerCertificate> _certificate;
    private readonly ClientCertificatePolicy _clients;
    private readonly CipherSuitesPolicy? _ciphers;
    private readonly List<SslApplicationProtocol> _alpn;

    public TlsEndpoint(WebConfig web, WebMetrics metrics, ILogger logger)
    {
        _tls = web.Tls ?? throw new ArgumentException("the web config has no tls_server_config", nameof(web));
        _http2 = web.Http.Http2;
        TlsServerConfig tls = _tls;
        Action<string> warn = message => logger.LogWarning("{Problem}", message);
        _certificate = new ReloadingPem<ServerCertificate>($"the TLS certificate ({tls.Certificate.Describe("cert_file")}, {tls.Key.Describe("key_file")})",
            [tls.Certificate, tls.Key], () => ServerCertificate.Load(tls), warn);
        ReloadingPem<X509Certificate2Collection>? cas = tls.ClientCa is PemSource ca
            ? new ReloadingPem<X509Certificate2Collection>($"the client CA ({ca.Describe("client_ca_file")})", [ca], () => ClientCertificatePolicy.LoadCas(ca), warn)
            : null;
        _clients = new ClientCertificatePolicy(tls, cas, problem =>
        {
            metrics.Refused("client_certificate");
            logger.LogDebug("TLS handshake refused: {Problem}", problem);
        });
        _ciphers = tls.CipherSuites is { } suites ? new CipherSuitesPolicy(suites.Concat(WebConfigNames.Tls13Suites).Distinct()) : null;
        _alpn = _http2 ? [SslApplicationProtocol.Http2, SslApplicationProtocol.Http11] : [SslApplicationProtocol.Http11];
        metrics.WatchCertificate(() => (_certificate.Reloads, _certificate.Current.Leaf.NotAfter));
    }

    /// <summary>Adds the HTTPS endpoint of <paramref name="url"/> (https://host:port) to Kestrel.</summary>
    public void Listen(KestrelServerOptions kestrel, string url)
    {
        (string host, int port) = ListenAddress.HostAndPort(url);
        void Configure(ListenOptions listen)
        {
            listen.Protocols = _http2 ? HttpProtocols.Http1AndHttp2 : HttpProtocols.Http1;
            listen.UseHttps(new TlsHandshakeCallbackOptions
            {
                OnConnection = _ => ValueTask.FromResult(ForConnection()),
                HandshakeTimeout = TimeSpan.FromSeconds(5),
            });
        }

        if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, Configure);
        }
        else if (IPAddress.TryParse(host, out IPAddress? ip))
        {
            kestrel.Listen(ip, port, Configure);
        }
        else
        {
            kestrel.ListenAnyIP(port, Configure); // "*", "+", or a host name, which Kestrel also binds to every address
        }
    }

    /// <summary>The options of one handshake, with the certificate as it is on disk now.</summary>
    public SslServerAuthenticationOptions ForConnection() => new()
    {
        ServerCertificateContext = _certificate.Current.Context,
        ClientCertificateRequired = _tls.RequestsClientCertificate,
        RemoteCertificateValidationCallback = _tls.RequestsClientCertificate ? _clients.Validate : null,
        EnabledSslProtocols = _tls.Protocols,
        CipherSuitesPolicy = _ciphers,
        ApplicationProtocols = _alpn,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
    };
}
