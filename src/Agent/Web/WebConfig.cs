using System.Net.Security;
using System.Security.Authentication;

namespace BpfAgent.Web;

/// <summary>
/// The web configuration file (<c>Agent:WebConfigFile</c>), in the format of the Prometheus exporter-toolkit that
/// node_exporter and ebpf_exporter read: TLS for the listener, basic auth users, extra response headers and a
/// request rate limit. Read and checked once at startup by <see cref="WebConfigReader"/>; certificate, key and
/// client CA files are re-read when they change on disk.
/// </summary>
public sealed record WebConfig(
    string File,
    TlsServerConfig? Tls,
    HttpServerConfig Http,
    IReadOnlyDictionary<string, string> Users,
    RateLimitConfig? RateLimit)
{
    public bool HasUsers => Users.Count > 0;
}

/// <summary>Where a PEM comes from: a file (re-read when it changes) or text written in the web config itself.</summary>
public sealed record PemSource(string? Path, string? Inline)
{
    public string Describe(string key) => Path is null ? $"{key} (inline)" : $"{key} {Path}";

    public string Read() => Path is null ? Inline! : System.IO.File.ReadAllText(Path);
}

/// <summary>Go's tls.ClientAuthType names, as exporter-toolkit takes them.</summary>
public enum ClientAuthType
{
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

/// <summary><c>tls_server_config</c>.</summary>
public sealed record TlsServerConfig(
    PemSource Certificate,
    PemSource Key,
    ClientAuthType ClientAuth,
    PemSource? ClientCa,
    IReadOnlyList<string>? ClientAllowedSans,
    SslProtocols Protocols,
    IReadOnlyList<TlsCipherSuite>? CipherSuites)
{
    /// <summary>Whether the handshake asks the client for a certificate at all.</summary>
    public bool RequestsClientCertificate => ClientAuth != ClientAuthType.NoClientCert;

    /// <summary>Whether a client that sends no certificate is refused.</summary>
    public bool RequiresClientCertificate => ClientAuth is ClientAuthType.RequireAnyClientCert or ClientAuthType.RequireAndVerifyClientCert;

    /// <summary>Whether a certificate the client sends must chain to the client CA.</summary>
    public bool VerifiesClientCertificate => ClientAuth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert;
}

/// <summary><c>http_server_config</c>: HTTP/2 over TLS, and headers added to every response.</summary>
public sealed record HttpServerConfig(bool Http2, IReadOnlyDictionary<string, string> Headers)
{
    public static HttpServerConfig Default { get; } = new(true, new Dictionary<string, string>());
}

/// <summary><c>rate_limit</c>: a token bucket of <see cref="Burst"/> requests refilled one per <see cref="Interval"/>.</summary>
public sealed record RateLimitConfig(TimeSpan Interval, int Burst);
