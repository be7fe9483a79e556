using System.Diagnostics.Metrics;
using BpfAgent.Metrics;

namespace BpfAgent.Web;

/// <summary>
/// The web side's own metrics: requests refused by reason, bcrypt checks actually computed (the rest were answered
/// from the cache), and the served certificate's reloads and expiry.
/// </summary>
public sealed class WebMetrics : IDisposable
{
    public static readonly string[] RefusalReasons = ["no_credentials", "bad_credentials", "busy", "rate_limited", "client_certificate"];

    private readonly Meter _meter = new(AgentMetrics.MeterName);
    private readonly long[] _refused = new long[RefusalReasons.Length];
    private long _passwordChecks;
    private Func<(long Reloads, DateTime NotAfter)>? _certificate;

    public WebMetrics()
    {
        _meter.CreateObservableCounter("bpf_agent_http_requests_refused", () => RefusalReasons.Select((r, i) =>
            new Measurement<long>(Interlocked.Read(ref _refused[i]), new KeyValuePair<string, object?>("reason", r))),
            description: "HTTP requests (or TLS handshakes) refused, by reason: no_credentials, bad_credentials, busy (password checks queued too long), rate_limited, client_certificate.");
        _meter.CreateObservableCounter("bpf_agent_http_password_checks", () => Interlocked.Read(ref _passwordChecks),
            description: "bcrypt password checks computed; verified (user, password) pairs are answered from a cache without one.");
        _meter.CreateObservableCounter<long>("bpf_agent_tls_certificate_reloads", () => _certificate is null ? [] : [new Measurement<long>(_certificate().Reloads)],
            description: "Times the TLS certificate and key were loaded again after they changed on disk.");
        _meter.CreateObservableGauge<double>("bpf_agent_tls_certificate_expiry_timestamp_seconds",
            () => _certificate is null ? [] : [new Measurement<double>(new DateTimeOffset(_certificate().NotAfter.ToUniversalTime()).ToUnixTimeSeconds())],
            unit: "s", description: "When the served TLS certificate expires (Unix time).");
    }

    public void Refused(string reason) => Interlocked.Increment(ref _refused[Array.IndexOf(RefusalReasons, reason)]);

    public void PasswordChecked() => Interlocked.Increment(ref _passwordChecks);

    public long PasswordChecks => Interlocked.Read(ref _passwordChecks);

    public void WatchCertificate(Func<(long Reloads, DateTime NotAfter)> certificate) => _certificate = certificate;

    public void Dispose() => _meter.Dispose();
}
