using Microsoft.AspNetCore.Http;

namespace BpfAgent.Health;

/// <summary>GET /: a small page linking the two endpoints, as node_exporter and ebpf_exporter answer.</summary>
public static class IndexPage
{
    private static readonly string s_html = $"""
        <!DOCTYPE html>
        <html>
        <head><meta charset="utf-8"><title>bpf-agent</title></head>
        <body>
        <h1>bpf-agent</h1>
        <p>eBPF programs as Prometheus metrics. Version {AgentVersion.Informational}.</p>
        <ul>
        <li><a href="metrics">/metrics</a>: Prometheus metrics</li>
        <li><a href="healthz">/healthz</a>: program sets and poll thread (JSON; 503 when degraded)</li>
        </ul>
        </body>
        </html>

        """;

    public static IResult Handle() => Results.Content(s_html, "text/html; charset=utf-8");
}
