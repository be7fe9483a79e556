using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BpfAgent.Tests;

/// <summary>
/// A throw-away PKI made in the test: a CA, server certificates for 127.0.0.1 and localhost, and client
/// certificates, as PEM files in a temp directory (removed on dispose), plus HTTPS clients that trust only that CA.
/// </summary>
public sealed class TestCertificates : IDisposable
{
    private static readonly Oid s_serverAuth = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2");

    public TestCertificates(string caName = "bpf-agent test CA")
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("bpf-agent-tls-").FullName;
        Ca = MakeCa(caName);
        CaFile = Write("ca.pem", Ca.ExportCertificatePem());
    }

    public string Directory { get; }

    public X509Certificate2 Ca { get; }

    public string CaFile { get; }

    public static X509Certificate2 MakeCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        req.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(req.PublicKey, false));
        return req.CreateSelfSigned(DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(2));
    }

    /// <summary>A certificate signed by <paramref name="issuer"/> (this CA by default), with its key.</summary>
    public X509Certificate2 Issue(string commonName, bool server, X509Certificate2? issuer = null, string[]? sans = null, int days = 1)
    {
        issuer ??= Ca;
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var req = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        req.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        req.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        req.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([server ? s_serverAuth : s_clientAuth], false));
        var san = new SubjectAlternativeNameBuilder();
        foreach (string name in sans ?? (server ? ["127.0.0.1", "localhost"] : []))
        {
            if (IPAddress.TryParse(name, out IPAddress? ip))
            {
                san.AddIpAddress(ip);
            }
            else if (name.Contains('@', StringComparison.Ordinal))
            {
                san.AddEmailAddress(name);
            }
            else if (name.Contains("://", StringComparison.Ordinal))
            {
                san.AddUri(new Uri(name));
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        if (server || sans is not null)
        {
            req.CertificateExtensions.Add(san.Build());
        }

        req.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        byte[] serial = RandomNumberGenerator.GetBytes(12);
        serial[0] &= 0x7F;
        using X509Certificate2 cert = req.Create(issuer, DateTimeOffset.UtcNow.AddMinutes(-10), DateTimeOffset.UtcNow.AddDays(days), serial);
        return cert.CopyWithPrivateKey(key);
    }

    /// <summary>Writes the certificate and its key as &lt;name&gt;.pem and &lt;name&gt;.key (replacing them if present).</summary>
    public (string Cert, string Key) WritePair(string name, X509Certificate2 cert)
    {
        string keyPem = cert.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem();
        return (Write(name + ".pem", cert.ExportCertificatePem()), Write(name + ".key", keyPem));
    }

    public string Write(string name, string text)
    {
        string path = Path.Combine(Directory, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>
    /// An HTTPS client that trusts only this CA, presents <paramref name="clientCert"/> when given, sends
    /// basic auth when <paramref name="user"/> is given, and records the server certificate of each handshake.
    /// </summary>
    public TlsClient Client(X509Certificate2? clientCert = null, string? user = null, string? password = null) => new(Ca, clientCert, user, password);

    /// <summary>Whether <paramref name="cert"/> chains to this CA (and to nothing else).</summary>
    public bool Trusts(X509Certificate? cert) => TlsClient.ChainsTo(Ca, cert);

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>See <see cref="TestCertificates.Client"/>.</summary>
public sealed class TlsClient : IDisposable
{
    private readonly HttpClient _http;

    public TlsClient(X509Certificate2 ca, X509Certificate2? clientCert, string? user, string? password)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.Zero, // a new connection (and handshake) for every request
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, cert, _, _) =>
                {
                    LastServerCertificate = cert is null ? null : new X509Certificate2(cert);
                    return ChainsTo(ca, cert);
                },
                ClientCertificates = clientCert is null ? null : new X509CertificateCollection { clientCert },
                LocalCertificateSelectionCallback = clientCert is null ? null : (_, _, _, _, _) => clientCert,
            },
        };
        _http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        if (user is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic",
                Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"{user}:{password}")));
        }
    }

    public static bool ChainsTo(X509Certificate2 ca, X509Certificate? cert)
    {
        if (cert is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(cert as X509Certificate2 ?? new X509Certificate2(cert));
    }

    /// <summary>The certificate the server presented in the last handshake.</summary>
    public X509Certificate2? LastServerCertificate { get; private set; }

    public Task<HttpResponseMessage> GetAsync(string url) => _http.GetAsync(url);

    public void Dispose() => _http.Dispose();
}
