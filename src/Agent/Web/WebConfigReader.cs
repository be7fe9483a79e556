using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using BpfAgent.Configuration;
using Microsoft.Extensions.Configuration;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace BpfAgent.Web;

/// <summary>
/// Reads the web configuration file named by <c>Agent:WebConfigFile</c>. Every key of exporter-toolkit's format is
/// either honoured or refused with the file, the key (and line) and the fix; certificates and keys are loaded once
/// here so that a bad one stops startup (exit 78) instead of failing every handshake.
/// </summary>
public static class WebConfigReader
{
    private static readonly string[] s_rootKeys = ["tls_server_config", "http_server_config", "basic_auth_users", "rate_limit"];

    private static readonly string[] s_tlsKeys =
    [
        "cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type", "client_ca_file", "client_allowed_sans",
        "min_version", "max_version", "cipher_suites", "prefer_server_cipher_suites", "curve_preferences",
    ];

    private static readonly string[] s_httpKeys = ["http2", "headers"];
    private static readonly string[] s_rateKeys = ["interval", "burst"];

    /// <summary>
    /// The web config the options name, or null for none (plain HTTP, no auth). Also checks that the listen URL's
    /// scheme agrees with it: https:// exactly when the file configures TLS.
    /// </summary>
    public static WebConfig? Read(IConfiguration configuration, AgentOptions options, string agentFile, List<ConfigError> errors)
    {
        bool https = options.Listen.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
        WebConfig? web = null;
        if (options.WebConfigFile.Length > 0)
        {
            string file = options.WebConfigFile;
            string? problem = !File.Exists(file) ? $"'{file}' does not exist" : Security.FileTrust.Check(file) is string p ? $"refused: {p}" : null;
            if (problem is not null)
            {
                errors.Add(SettingSource.Error(configuration, "Agent:WebConfigFile", agentFile, problem,
                    "give the path of a web config file (exporter-toolkit format, see docs/security.md), owned by root and not writable by others, or remove Agent:WebConfigFile"));
                return null;
            }

            web = Parse(file, File.ReadAllText(file), errors);
        }

        if (ListenAddress.ProblemWith(options.Listen) is not null)
        {
            return web; // reported with the other options
        }

        if (https && web?.Tls is null)
        {
            errors.Add(SettingSource.Error(configuration, "Agent:Listen", agentFile, $"'{options.Listen}' is https:// but no web config file configures TLS",
                "set Agent:WebConfigFile to a file with tls_server_config (cert_file, key_file), or listen on http://"));
        }
        else if (!https && web?.Tls is not null)
        {
            errors.Add(SettingSource.Error(configuration, "Agent:Listen", agentFile, $"'{options.Listen}' is http:// but {web.File} configures TLS",
                $"write the address as https://{options.Listen["http://".Length..]}"));
        }

        return web;
    }

    /// <summary>What a read web config does, in one line (for `check` and the startup log).</summary>
    public static string Summary(WebConfig web)
    {
        string tls = web.Tls is TlsServerConfig t
            ? $"TLS ({t.Protocols.ToString().Replace(", ", "+", StringComparison.Ordinal)}, client certificates: {t.ClientAuth}, HTTP/2 {(web.Http.Http2 ? "on" : "off")})"
            : "no TLS";
        string users = web.HasUsers ? $"basic auth for {web.Users.Count} user(s)" : "no basic auth";
        string rate = web.RateLimit is RateLimitConfig r ? $", rate limit {r.Burst} per {r.Interval}" : "";
        return $"{tls}, {users}{rate}, {web.Http.Headers.Count} extra header(s)";
    }

    /// <summary>Parses and checks the file's text; null when it cannot be used (the errors say why).</summary>
    public static WebConfig? Parse(string file, string text, List<ConfigError> errors)
    {
        var yaml = new YamlStream();
        try
        {
            yaml.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            errors.Add(new ConfigError(file, $"line {e.Start.Line}, column {e.Start.Column}", $"invalid YAML: {(e.InnerException ?? e).Message}", "fix the YAML syntax"));
            return null;
        }

        int before = errors.Count;
        var r = new Reader(file, errors);
        Dictionary<string, YamlNode>? root = yaml.Documents.Count == 0 || IsNull(yaml.Documents[0].RootNode)
            ? []
            : r.Mapping("", yaml.Documents[0].RootNode, s_rootKeys);
        if (root is null)
        {
            return null;
        }

        TlsServerConfig? tls = root.TryGetValue("tls_server_config", out YamlNode? t) ? ReadTls(r, t, Path.GetDirectoryName(file)!) : null;
        HttpServerConfig http = root.TryGetValue("http_server_config", out YamlNode? h) ? ReadHttp(r, h) : HttpServerConfig.Default;
        IReadOnlyDictionary<string, string> users = root.TryGetValue("basic_auth_users", out YamlNode? u) ? ReadUsers(r, u) : new Dictionary<string, string>();
        RateLimitConfig? rate = root.TryGetValue("rate_limit", out YamlNode? l) ? ReadRateLimit(r, l) : null;
        return errors.Count > before ? null : new WebConfig(file, tls, http, users, rate);
    }

    private static TlsServerConfig? ReadTls(Reader r, YamlNode node, string directory)
    {
        const string S = "tls_server_config";
        Dictionary<string, YamlNode>? m = r.Mapping(S, node, s_tlsKeys);
        if (m is null || m.Count == 0)
        {
            return null;
        }

        PemSource? cert = r.Pem(m, S, "cert", "cert_file", directory, required: true);
        PemSource? key = r.Pem(m, S, "key", "key_file", directory, required: true);
        PemSource? clientCa = r.Pem(m, S, "client_ca", "client_ca_file", directory, required: false);

        ClientAuthType auth = ClientAuthType.NoClientCert;
        if (r.Scalar(m, S, "client_auth_type") is (string authName, YamlNode authNode))
        {
            if (authName == "RequireClientCert")
            {
                auth = ClientAuthType.RequireAnyClientCert; // exporter-toolkit's older name
            }
            else if (!Enum.TryParse(authName, ignoreCase: false, out auth) || int.TryParse(authName, out _))
            {
                r.Error($"{S}.client_auth_type", authNode, $"'{authName}' is not a client auth type", $"use one of {string.Join(", ", Enum.GetNames<ClientAuthType>())}");
            }
        }

        if (clientCa is not null && auth == ClientAuthType.NoClientCert)
        {
            r.Error($"{S}.client_auth_type", node, "a client CA is given but client_auth_type asks for no client certificate",
                "set client_auth_type: RequireAndVerifyClientCert (or VerifyClientCertIfGiven), or remove the client CA");
        }

        if (clientCa is null && auth is ClientAuthType.VerifyClientCertIfGiven or ClientAuthType.RequireAndVerifyClientCert)
        {
            r.Error($"{S}.client_auth_type", node, $"{auth} verifies client certificates, but no client CA is given", "set client_ca_file to the PEM of the CA that signs your clients' certificates");
        }

        List<string>? sans = r.Strings(m, S, "client_allowed_sans");
        if (sans is not null && auth is not (ClientAuthType.RequireAnyClientCert or ClientAuthType.RequireAndVerifyClientCert))
        {
            r.Error($"{S}.client_allowed_sans", m["client_allowed_sans"], "matching client SANs needs a client certificate on every connection",
                "set client_auth_type: RequireAndVerifyClientCert (or RequireAnyClientCert)");
        }

        SslProtocols min = r.Version(m, S, "min_version", SslProtocols.Tls12);
        SslProtocols max = r.Version(m, S, "max_version", SslProtocols.Tls13);
        if (min > max)
        {
            r.Error($"{S}.min_version", m["min_version"], "min_version is above max_version", "make min_version TLS12 and max_version TLS13, or set them equal");
        }

        SslProtocols protocols = min == max ? min : SslProtocols.Tls12 | SslProtocols.Tls13;

        List<TlsCipherSuite>? suites = null;
        if (r.Strings(m, S, "cipher_suites") is List<string> names)
        {
            suites = [];
            foreach (string name in names)
            {
                if (WebConfigNames.CipherSuites.TryGetValue(name, out TlsCipherSuite suite))
                {
                    suites.Add(suite);
                }
                else
                {
                    bool tls13 = name is "TLS_AES_128_GCM_SHA256" or "TLS_AES_256_GCM_SHA384" or "TLS_CHACHA20_POLY1305_SHA256";
                    r.Error($"{S}.cipher_suites", m["cipher_suites"], tls13 ? $"{name} is a TLS 1.3 suite, and TLS 1.3 suites are not configurable" : $"'{name}' is not a cipher suite offered",
                        tls13 ? "remove it (every TLS 1.3 suite stays on)" : DidYouMean.Closest(name, WebConfigNames.CipherSuites.Keys) is string close
                            ? $"did you mean {close}?" : $"use Go's names of TLS 1.2 ECDHE suites, such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
                }
            }
        }

        _ = r.Bool(m, S, "prefer_server_cipher_suites", true); // accepted for compatibility; Go ignores it since 1.18, and so does OpenSSL's server here
        if (r.Strings(m, S, "curve_preferences") is { Count: > 0 })
        {
            r.Error($"{S}.curve_preferences", m["curve_preferences"], "choosing the ECDHE curves is not supported: .NET gives a server no way to set them",
                "remove curve_preferences (OpenSSL's defaults are used: X25519, P-256, P-384, P-521)");
        }

        if (cert is null || key is null)
        {
            return null;
        }

        var config = new TlsServerConfig(cert, key, auth, clientCa, sans, protocols, suites);
        r.TryLoad($"{S}.{(cert.Path is null ? "cert" : "cert_file")}", node, () => _ = ServerCertificate.Load(config), "give a PEM certificate and its matching unencrypted PEM private key (PKCS#8, RSA or EC)");
        if (clientCa is not null)
        {
            r.TryLoad($"{S}.{(clientCa.Path is null ? "client_ca" : "client_ca_file")}", node, () => _ = ClientCertificatePolicy.LoadCas(clientCa), "give one or more PEM CA certificates");
        }

        return config;
    }

    private static HttpServerConfig ReadHttp(Reader r, YamlNode node)
    {
        const string S = "http_server_config";
        Dictionary<string, YamlNode>? m = r.Mapping(S, node, s_httpKeys);
        if (m is null)
        {
            return HttpServerConfig.Default;
        }

        bool http2 = r.Bool(m, S, "http2", true);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (m.TryGetValue("headers", out YamlNode? hn) && r.Mapping($"{S}.headers", hn, [.. WebConfigNames.Headers.Keys]) is Dictionary<string, YamlNode> hm)
        {
            foreach ((string name, YamlNode valueNode) in hm)
            {
                if (r.Scalar(hm, $"{S}.headers", name) is not (string value, _) || value.Length == 0)
                {
                    continue; // blank: unset, as in exporter-toolkit
                }

                string[]? allowed = WebConfigNames.Headers[name];
                if (allowed is not null && !allowed.Contains(value, StringComparer.Ordinal))
                {
                    r.Error($"{S}.headers.{name}", valueNode, $"'{value}' is not a value {name} takes", $"use {string.Join(" or ", allowed)}");
                    continue;
                }

                headers[name] = value;
            }
        }

        return new HttpServerConfig(http2, headers);
    }

    private static IReadOnlyDictionary<string, string> ReadUsers(Reader r, YamlNode node)
    {
        const string S = "basic_auth_users";
        var users = new Dictionary<string, string>(StringComparer.Ordinal);
        Dictionary<string, YamlNode>? m = r.Mapping(S, node, null);
        foreach ((string user, YamlNode hashNode) in m ?? [])
        {
            string key = $"{S}.{user}";
            if (user.Contains(':', StringComparison.Ordinal) || user.Length == 0)
            {
                r.Error(key, hashNode, "a basic auth user name may not be empty or contain ':'", "rename the user");
                continue;
            }

            if (r.Scalar(m!, S, user) is not (string hash, _) || BcryptProblem(hash) is string problem)
            {
                r.Error(key, hashNode, "is not a bcrypt hash", "write the bcrypt hash of the password (for example from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`), not the password itself");
                continue;
            }

            users[user] = hash;
        }

        return users;
    }

    /// <summary>Null when <paramref name="hash"/> is a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31), else why not.</summary>
    internal static string? BcryptProblem(string hash)
    {
        if (hash.Length != 60 || !(hash.StartsWith("$2a$", StringComparison.Ordinal) || hash.StartsWith("$2b$", StringComparison.Ordinal) || hash.StartsWith("$2y$", StringComparison.Ordinal)))
        {
            return "not a bcrypt hash";
        }

        try
        {
            BCrypt.Net.HashInformation info = BCrypt.Net.BCrypt.InterrogateHash(hash);
            return int.TryParse(info.WorkFactor, NumberStyles.None, CultureInfo.InvariantCulture, out int cost) && cost is >= 4 and <= 31 ? null : "bad cost";
        }
        catch (Exception e) when (e is BCrypt.Net.HashInformationException or ArgumentException)
        {
            return e.Message;
        }
    }

    private static RateLimitConfig? ReadRateLimit(Reader r, YamlNode node)
    {
        const string S = "rate_limit";
        Dictionary<string, YamlNode>? m = r.Mapping(S, node, s_rateKeys);
        if (m is null)
        {
            return null;
        }

        TimeSpan interval = TimeSpan.Zero;
        if (r.Scalar(m, S, "interval") is (string text, YamlNode n))
        {
            if (WebConfigNames.Duration(text) is TimeSpan d)
            {
                interval = d;
            }
            else
            {
                r.Error($"{S}.interval", n, $"'{text}' is not a duration", "write a duration such as 100ms or 1s (0 turns the limit off)");
            }
        }

        int burst = 0;
        if (r.Scalar(m, S, "burst") is (string b, YamlNode bn) && (!int.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out burst) || burst > 1_000_000))
        {
            r.Error($"{S}.burst", bn, $"'{b}' is not a whole number from 0 to 1000000", "set burst to the requests allowed at once, such as 10");
        }

        if (interval > TimeSpan.Zero && burst == 0)
        {
            r.Error($"{S}.burst", node, "with an interval and a burst of 0 every request would be refused", "set burst to 1 or more");
        }

        return interval > TimeSpan.Zero ? new RateLimitConfig(interval, burst) : null;
    }

    private static bool IsNull(YamlNode node) => node is YamlScalarNode s && s.Style == YamlDotNet.Core.ScalarStyle.Plain && s.Value is null or "" or "~" or "null";

    /// <summary>Walks the YAML tree, collecting errors that name the file, the dotted key and the line.</summary>
    private sealed class Reader(string file, List<ConfigError> errors)
    {
        public void Error(string key, YamlNode node, string problem, string fix) =>
            errors.Add(new ConfigError(file, key, $"{problem.TrimEnd('.')} (line {node.Start.Line})", fix));

        /// <summary>A mapping's entries by key, checking them against <paramref name="known"/> (null: any key); null is an empty mapping.</summary>
        public Dictionary<string, YamlNode>? Mapping(string key, YamlNode node, string[]? known)
        {
            if (IsNull(node))
            {
                return [];
            }

            if (node is not YamlMappingNode mapping)
            {
                Error(key.Length == 0 ? "(top level)" : key, node, "is not a mapping", key.Length == 0 ? $"write the file as keys: {string.Join(", ", s_rootKeys)}" : "write it as keys and values");
                return null;
            }

            var entries = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
            foreach ((YamlNode k, YamlNode v) in mapping.Children)
            {
                string name = (k as YamlScalarNode)?.Value ?? "";
                string path = key.Length == 0 ? name : $"{key}.{name}";
                if (known is not null && !known.Contains(name, StringComparer.Ordinal))
                {
                    Error(path, k, "is not a known key", DidYouMean.Closest(name, known) is string close ? $"did you mean {close}?" : $"remove it; known keys here: {string.Join(", ", known)}");
                    continue;
                }

                entries[name] = v;
            }

            return entries;
        }

        /// <summary>A scalar's text and node, or null when the key is absent or null.</summary>
        public (string Value, YamlNode Node)? Scalar(Dictionary<string, YamlNode> m, string section, string key)
        {
            if (!m.TryGetValue(key, out YamlNode? node) || IsNull(node))
            {
                return null;
            }

            if (node is YamlScalarNode s)
            {
                return (s.Value ?? "", node);
            }

            Error($"{section}.{key}", node, "is not a single value", "write one value");
            return null;
        }

        public bool Bool(Dictionary<string, YamlNode> m, string section, string key, bool fallback)
        {
            if (Scalar(m, section, key) is not (string v, YamlNode node))
            {
                return fallback;
            }

            if (bool.TryParse(v, out bool b))
            {
                return b;
            }

            Error($"{section}.{key}", node, $"'{v}' is not true or false", $"set {key} to true or false");
            return fallback;
        }

        public List<string>? Strings(Dictionary<string, YamlNode> m, string section, string key)
        {
            if (!m.TryGetValue(key, out YamlNode? node) || IsNull(node))
            {
                return null;
            }

            if (node is YamlSequenceNode seq && seq.Children.All(c => c is YamlScalarNode))
            {
                return [.. seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "")];
            }

            Error($"{section}.{key}", node, "is not a list of strings", $"write {key} as a list, one '- value' a line");
            return null;
        }

        public SslProtocols Version(Dictionary<string, YamlNode> m, string section, string key, SslProtocols fallback)
        {
            if (Scalar(m, section, key) is not (string name, YamlNode node))
            {
                return fallback;
            }

            (SslProtocols? protocol, string? problem) = WebConfigNames.Version(name);
            if (protocol is SslProtocols p)
            {
                return p;
            }

            Error($"{section}.{key}", node, problem!, "use TLS12 or TLS13");
            return fallback;
        }

        /// <summary>The inline PEM or the file (relative to the web config's directory); one of them, not both.</summary>
        public PemSource? Pem(Dictionary<string, YamlNode> m, string section, string inlineKey, string fileKey, string directory, bool required)
        {
            (string, YamlNode)? inline = Scalar(m, section, inlineKey);
            (string, YamlNode)? path = Scalar(m, section, fileKey);
            if (inline is not null && path is not null)
            {
                Error($"{section}.{inlineKey}", inline.Value.Item2, $"both {inlineKey} and {fileKey} are given", $"keep one: {fileKey} (a file, re-read when it changes) or {inlineKey} (PEM text)");
                return null;
            }

            if (inline is (string pem, _))
            {
                return new PemSource(null, pem);
            }

            if (path is (string p, YamlNode node))
            {
                string full = Path.GetFullPath(p, directory);
                if (!File.Exists(full))
                {
                    Error($"{section}.{fileKey}", node, $"'{full}' does not exist", "give the path of a PEM file (relative paths start at the web config's directory)");
                    return null;
                }

                return new PemSource(full, null);
            }

            if (required)
            {
                Error($"{section}.{fileKey}", m.Values.FirstOrDefault() ?? new YamlScalarNode(), $"TLS is configured but {fileKey} (or {inlineKey}) is missing",
                    $"set {fileKey} to a PEM file, or remove tls_server_config to serve plain HTTP");
            }

            return null;
        }

        /// <summary>Runs a loader that throws on bad content, turning its exception into an error at <paramref name="key"/>.</summary>
        public void TryLoad(string key, YamlNode node, Action load, string fix)
        {
            try
            {
                load();
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException or InvalidDataException)
            {
                Error(key, node, e.Message, fix);
            }
        }
    }
}
