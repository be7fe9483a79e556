using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Text.RegularExpressions;

namespace BpfAgent.Web;

/// <summary>
/// The words the web configuration format uses (Go's names for TLS versions, cipher suites and client auth types;
/// the headers exporter-toolkit lets one set; Go durations) and what each means here.
/// </summary>
public static partial class WebConfigNames
{
    public static readonly string[] Versions = ["TLS10", "TLS11", "TLS12", "TLS13"];

    public static readonly string[] ClientAuthTypes = [.. Enum.GetNames<ClientAuthType>(), "RequireClientCert"];

    /// <summary>
    /// The TLS 1.2 suites Go offers (tls.CipherSuites(): ECDHE with AES-GCM, AES-CBC-SHA or ChaCha20), by Go's name.
    /// TLS 1.3 suites are not configurable, in Go as here.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, TlsCipherSuite> CipherSuites = new Dictionary<string, TlsCipherSuite>(StringComparer.Ordinal)
    {
        ["TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
        ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
        ["TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
        ["TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
        ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        // Go's older names for the two ChaCha20 suites.
        ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        ["TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305"] = TlsCipherSuite.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    };

    /// <summary>Always allowed when cipher_suites narrows TLS 1.2: OpenSSL's policy list covers TLS 1.3 too.</summary>
    public static readonly TlsCipherSuite[] Tls13Suites =
    [
        TlsCipherSuite.TLS_AES_128_GCM_SHA256, TlsCipherSuite.TLS_AES_256_GCM_SHA384, TlsCipherSuite.TLS_CHACHA20_POLY1305_SHA256,
    ];

    /// <summary>The response headers exporter-toolkit lets a web config set, with the values allowed (null: any).</summary>
    public static readonly IReadOnlyDictionary<string, string[]?> Headers = new Dictionary<string, string[]?>(StringComparer.Ordinal)
    {
        ["Strict-Transport-Security"] = null,
        ["X-Content-Type-Options"] = ["nosniff"],
        ["X-Frame-Options"] = ["deny", "sameorigin"],
        ["X-XSS-Protection"] = null,
        ["Content-Security-Policy"] = null,
    };

    /// <summary>TLS12 or TLS13 as the protocol flag; null with the reason for anything else.</summary>
    public static (SslProtocols? Protocol, string? Problem) Version(string name) => name switch
    {
        "TLS12" => (SslProtocols.Tls12, null),
        "TLS13" => (SslProtocols.Tls13, null),
        "TLS10" or "TLS11" => (null, $"{name} is not offered: TLS 1.0 and 1.1 are deprecated (RFC 8996) and OpenSSL here refuses them"),
        _ => (null, $"'{name}' is not a TLS version"),
    };

    /// <summary>A Go duration ("500ms", "1m30s"); null when it is not one.</summary>
    public static TimeSpan? Duration(string text)
    {
        if (text == "0")
        {
            return TimeSpan.Zero;
        }

        MatchCollection parts = DurationPart().Matches(text);
        if (parts.Count == 0 || string.Concat(parts.Select(p => p.Value)) != text)
        {
            return null;
        }

        double ms = 0;
        foreach (Match p in parts)
        {
            double n = double.Parse(p.Groups["n"].Value, CultureInfo.InvariantCulture);
            ms += n * p.Groups["unit"].Value switch
            {
                "ns" => 1e-6,
                "us" or "µs" => 1e-3,
                "ms" => 1,
                "s" => 1000,
                "m" => 60_000,
                _ => 3_600_000,
            };
        }

        return TimeSpan.FromMilliseconds(ms);
    }

    [GeneratedRegex(@"(?<n>[0-9]+(\.[0-9]+)?)(?<unit>ns|us|µs|ms|s|m|h)")]
    private static partial Regex DurationPart();
}
