using System.Net.Security;
using System.Security.Authentication;
using BpfAgent.Configuration;
using BpfAgent.Web;

namespace BpfAgent.Tests;

/// <summary>
/// The web config file (exporter-toolkit's format): every key is honoured or refused with the file, the key, the
/// line and the fix; a bad file stops the agent with status 78; passwords are checked by bcrypt once per pair.
/// </summary>
public sealed class WebConfigTests : IDisposable
{
    private const string Password = "s3cret";
    private static readonly string s_hash = BCrypt.Net.BCrypt.HashPassword(Password, BCrypt.Net.BCrypt.GenerateSalt(4, 'y'));

    private readonly TestCertificates _pki = new();
    private readonly string _server;

    public WebConfigTests()
    {
        _pki.WritePair("server", _pki.Issue("bpf-agent", server: true));
        _server = _pki.Directory;
    }

    public void Dispose() => _pki.Dispose();

    private (WebConfig? Config, List<ConfigError> Errors) Parse(string yaml)
    {
        string file = _pki.Write("web.yml", yaml);
        var errors = new List<ConfigError>();
        return (WebConfigReader.Parse(file, yaml, errors), errors);
    }

    [Fact]
    public void A_file_with_every_key_is_read_as_written_with_paths_relative_to_its_directory()
    {
        (WebConfig? web, List<ConfigError> errors) = Parse($"""
            tls_server_config:
              cert_file: server.pem
              key_file: server.key
              client_auth_type: RequireAndVerifyClientCert
              client_ca_file: ca.pem
              client_allowed_sans: [scraper.example, 10.0.0.9]
              min_version: TLS13
              max_version: TLS13
              cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305]
              prefer_server_cipher_suites: false
            http_server_config:
              http2: false
              headers:
                X-Frame-Options: deny
                Strict-Transport-Security: max-age=31536000
                Content-Security-Policy: ""
            basic_auth_users:
              prometheus: {s_hash}
            rate_limit:
              interval: 1m30s
              burst: 5
            """);
        Assert.Empty(errors);
        Assert.NotNull(web);
        TlsServerConfig tls = web.Tls!;
        Assert.Equal(Path.Combine(_server, "server.pem"), tls.Certificate.Path);
        Assert.Equal(Path.Combine(_server, "ca.pem"), tls.ClientCa!.Path);
        Assert.Equal(ClientAuthType.RequireAndVerifyClientCert, tls.ClientAuth);
        Assert.Equal(["scraper.example", "10.0.0.9"], tls.ClientAllowedSans);
        Assert.Equal(SslProtocols.Tls13, tls.Protocols);
        Assert.Equal([TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256], tls.CipherSuites);
        Assert.False(web.Http.Http2);
        Assert.Equal(new Dictionary<string, string> { ["X-Frame-Options"] = "deny", ["Strict-Transport-Security"] = "max-age=31536000" }, web.Http.Headers);
        Assert.Equal(s_hash, web.Users["prometheus"]);
        Assert.Equal(new RateLimitConfig(TimeSpan.FromSeconds(90), 5), web.RateLimit);
    }

    [Fact]
    public void An_empty_file_or_one_with_users_only_serves_plain_http()
    {
        (WebConfig? empty, List<ConfigError> e1) = Parse("");
        Assert.Empty(e1);
        Assert.Null(empty!.Tls);
        Assert.False(empty.HasUsers);
        Assert.True(empty.Http.Http2);

        (WebConfig? users, List<ConfigError> e2) = Parse($"basic_auth_users:\n  a: {s_hash}\n  b: '{s_hash}'\ntls_server_config:\n");
        Assert.Empty(e2);
        Assert.Null(users!.Tls);
        Assert.Equal(2, users.Users.Count);
    }

    [Theory]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_versoin: TLS12\n", "tls_server_config.min_versoin", "is not a known key (line 4)", "did you mean min_version?")]
    [InlineData("tls_sever_config:\n  cert_file: server.pem\n", "tls_sever_config", "is not a known key (line 1)", "did you mean tls_server_config?")]
    [InlineData("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file", "cert_file (or cert) is missing", "set cert_file")]
    [InlineData("tls_server_config:\n  cert_file: nope.pem\n  key_file: server.key\n", "tls_server_config.cert_file", "nope.pem' does not exist (line 2)", "relative paths start at the web config's directory")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: ca.pem\n", "tls_server_config.cert_file", "(line 2)", "matching unencrypted PEM private key")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  cert: x\n  key_file: server.key\n", "tls_server_config.cert", "both cert and cert_file are given", "keep one")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS10\n", "tls_server_config.min_version", "deprecated (RFC 8996)", "use TLS12 or TLS13")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  max_version: SSL3\n", "tls_server_config.max_version", "'SSL3' is not a TLS version (line 4)", "use TLS12 or TLS13")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n  max_version: TLS12\n", "tls_server_config.min_version", "min_version is above max_version", "TLS12")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerify\n  client_ca_file: ca.pem\n", "tls_server_config.client_auth_type", "'RequireAndVerify' is not a client auth type", "RequireAndVerifyClientCert")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n", "tls_server_config.client_auth_type", "no client CA is given", "set client_ca_file")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_ca_file: ca.pem\n", "tls_server_config.client_auth_type", "asks for no client certificate", "RequireAndVerifyClientCert")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: server.key\n", "tls_server_config.client_ca_file", "holds no PEM certificate", "PEM CA certificates")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n  client_allowed_sans: [a]\n", "tls_server_config.client_allowed_sans", "needs a client certificate on every connection", "RequireAndVerifyClientCert")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA265]\n", "tls_server_config.cipher_suites", "is not a cipher suite offered", "did you mean TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256?")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "tls_server_config.cipher_suites", "TLS 1.3 suites are not configurable", "remove it")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  curve_preferences: [X25519]\n", "tls_server_config.curve_preferences", "not supported", "remove curve_preferences")]
    [InlineData("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  prefer_server_cipher_suites: maybe\n", "tls_server_config.prefer_server_cipher_suites", "'maybe' is not true or false", "true or false")]
    [InlineData("http_server_config:\n  http2: 1\n", "http_server_config.http2", "'1' is not true or false (line 2)", "true or false")]
    [InlineData("http_server_config:\n  headers:\n    X-Frame-Options: allow\n", "http_server_config.headers.X-Frame-Options", "'allow' is not a value X-Frame-Options takes", "deny or sameorigin")]
    [InlineData("http_server_config:\n  headers:\n    Server: bpf\n", "http_server_config.headers.Server", "is not a known key (line 3)", "Strict-Transport-Security")]
    [InlineData("basic_auth_users:\n  prometheus: s3cret\n", "basic_auth_users.prometheus", "is not a bcrypt hash (line 2)", "htpasswd -nBC 10")]
    [InlineData("basic_auth_users:\n  - prometheus\n", "basic_auth_users", "is not a mapping (line 2)", "keys and values")]
    [InlineData("rate_limit:\n  interval: 5 seconds\n  burst: 2\n", "rate_limit.interval", "'5 seconds' is not a duration", "100ms or 1s")]
    [InlineData("rate_limit:\n  interval: 1s\n", "rate_limit.burst", "every request would be refused", "set burst to 1 or more")]
    [InlineData("rate_limit:\n  interval: 1s\n  burst: -1\n", "rate_limit.burst", "'-1' is not a whole number", "such as 10")]
    [InlineData("tls_server_config: [\n", "line 2, column 1", "invalid YAML", "fix the YAML syntax")]
    [InlineData("basic_auth_users:\n  a: x\n  a: y\n", "line 3, column 3", "invalid YAML", "fix the YAML syntax")]
    [InlineData("- a\n", "(top level)", "is not a mapping (line 1)", "tls_server_config")]
    public void A_wrong_key_or_value_is_refused_naming_the_file_the_key_and_the_fix(string yaml, string key, string problem, string fix)
    {
        (WebConfig? web, List<ConfigError> errors) = Parse(yaml);
        Assert.Null(web);
        ConfigError e = errors.First();
        Assert.True(e.Key == key, $"key {e.Key}, expected {key}: {e}");
        Assert.Equal(Path.Combine(_pki.Directory, "web.yml"), e.File);
        Assert.Contains(problem, e.Problem, StringComparison.Ordinal);
        Assert.Contains(fix, e.Fix, StringComparison.Ordinal);
    }

    [Fact]
    public void The_listen_scheme_must_agree_with_the_web_config_and_a_missing_file_is_named()
    {
        using var config = new TestConfig();
        string tls = _pki.Write("tls.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
        string plain = _pki.Write("plain.yml", $"basic_auth_users:\n  u: {s_hash}\n");

        ConfigError http = Assert.Single(AgentConfiguration.Load(config.Directory, [$"--Agent:WebConfigFile={tls}"]).Errors);
        Assert.Equal((Path.Combine(config.Directory, "agent.json"), "Agent.Listen"), (http.File, http.Key));
        Assert.Contains($"write the address as https://127.0.0.1:{config.Port}", http.Fix, StringComparison.Ordinal);

        ConfigError https = Assert.Single(AgentConfiguration.Load(config.Directory, [$"--Agent:WebConfigFile={plain}", $"--Agent:Listen=https://127.0.0.1:{config.Port}"]).Errors);
        Assert.Contains("no web config file configures TLS", https.Problem, StringComparison.Ordinal);

        AgentConfiguration ok = AgentConfiguration.Load(config.Directory, [$"--Agent:WebConfigFile={tls}", $"--Agent:Listen=https://127.0.0.1:{config.Port}"]);
        Assert.Empty(ok.Errors);
        Assert.NotNull(ok.Web!.Tls);

        ConfigError missing = Assert.Single(AgentConfiguration.Load(config.Directory, ["--Agent:WebConfigFile=nope.yml"]).Errors);
        Assert.Equal("--Agent:WebConfigFile", missing.Key);
        Assert.Contains($"'{Path.Combine(config.Directory, "nope.yml")}' does not exist", missing.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_web_config_stops_the_agent_with_status_78_naming_the_file_and_key()
    {
        using var config = new TestConfig();
        string bad = _pki.Write("bad.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  curve_preferences: [X25519]\n");
        using var agent = AgentProcess.StartWithConfig(config, null, "--web.config.file", bad);
        Assert.Equal(ExitCodes.Config, agent.WaitForExit(TimeSpan.FromSeconds(60)));
        Assert.Contains($"{bad}: tls_server_config.curve_preferences: choosing the ECDHE curves is not supported", agent.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_password_is_checked_by_bcrypt_once_then_answered_from_the_cache_and_unknown_users_are_refused()
    {
        using var metrics = new WebMetrics();
        using var checker = new PasswordChecker(new Dictionary<string, string> { ["prometheus"] = s_hash }, metrics);
        Assert.Equal(PasswordVerdict.Accepted, await checker.CheckAsync("prometheus", Password, default));
        Assert.Equal(PasswordVerdict.Refused, await checker.CheckAsync("prometheus", "wrong", default));
        Assert.Equal(PasswordVerdict.Refused, await checker.CheckAsync("nobody", Password, default));
        Assert.Equal(3, metrics.PasswordChecks);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(PasswordVerdict.Accepted, await checker.CheckAsync("prometheus", Password, default));
            Assert.Equal(PasswordVerdict.Refused, await checker.CheckAsync("prometheus", "wrong", default));
        }

        Assert.Equal(3, metrics.PasswordChecks);
    }

    [Fact]
    public async Task A_flood_of_new_wrong_passwords_is_answered_busy_once_the_bcrypt_queue_is_full_while_a_verified_password_still_passes()
    {
        // Cost 10, as htpasswd -B makes by default: each check takes tens of ms, and the budget spaces them out.
        string hash = BCrypt.Net.BCrypt.HashPassword(Password, 10);
        using var metrics = new WebMetrics();
        using var checker = new PasswordChecker(new Dictionary<string, string> { ["prometheus"] = hash }, metrics);
        Assert.Equal(PasswordVerdict.Accepted, await checker.CheckAsync("prometheus", Password, default));

        const int Flood = 40;
        Task<PasswordVerdict>[] flood = [.. Enumerable.Range(0, Flood).Select(i => checker.CheckAsync("prometheus", $"guess-{i}", default).AsTask())];
        Assert.Equal(PasswordVerdict.Accepted, await checker.CheckAsync("prometheus", Password, default)); // cached: not queued behind the flood
        PasswordVerdict[] verdicts = await Task.WhenAll(flood);
        int busy = verdicts.Count(v => v == PasswordVerdict.Busy);
        Assert.DoesNotContain(PasswordVerdict.Accepted, verdicts);
        Assert.True(busy > 0, $"all {Flood} wrong passwords were checked: {metrics.PasswordChecks - 1} bcrypt checks");
        Assert.Equal(Flood - busy, metrics.PasswordChecks - 1);
    }

    [Fact]
    public void Subject_alternative_names_of_every_kind_are_read_for_client_allowed_sans()
    {
        string[] sans = ["10.0.0.9", "ops@example.org", "scraper.example", "spiffe://cluster/ns/monitoring/sa/prometheus"];
        using var cert = _pki.Issue("scraper", server: false, sans: sans);
        Assert.Equal(sans, ClientCertificatePolicy.SubjectAltNames(cert).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("1m30s", 90_000)]
    [InlineData("2h", 7_200_000)]
    [InlineData("0", 0)]
    [InlineData("1.5s", 1500)]
    public void Go_durations_are_read(string text, double ms) => Assert.Equal(TimeSpan.FromMilliseconds(ms), WebConfigNames.Duration(text));
}
