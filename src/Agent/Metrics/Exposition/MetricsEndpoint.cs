using System.IO.Compression;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace BpfAgent.Metrics.Exposition;

/// <summary>
/// /metrics as one response: OpenTelemetry's Prometheus exporter writes its families (counters, gauges, the
/// agent's own metrics) into a buffer, and the families aggregated outside OpenTelemetry (histograms) follow, in
/// the format the exporter negotiated (text 0.0.4, or OpenMetrics 1.0 with its one # EOF moved to the end).
/// </summary>
public sealed class MetricsEndpoint(Func<IEnumerable<IHistogramFamily>> histograms, Action? beforeScrape = null)
{
    public const string Path = "/metrics";

    private static readonly byte[] s_eof = "# EOF\n"u8.ToArray();

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.Request.Path.Equals(Path, StringComparison.Ordinal))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        // The exporter would gzip its part when asked; it writes plain text here and the whole response is compressed
        // once at the end instead.
        bool gzip = context.Request.Headers.AcceptEncoding.Any(v => v?.Contains("gzip", StringComparison.OrdinalIgnoreCase) == true);
        context.Request.Headers.Remove("Accept-Encoding");
        // Maps are read first, once: the exporter's counters, gauges and map self-metrics and the histogram families
        // below then all show the same read.
        beforeScrape?.Invoke();
        Stream body = context.Response.Body;
        using var buffer = new MemoryStream();
        context.Response.Body = buffer;
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Response.Body = body;
        }

        if (context.Response.StatusCode != StatusCodes.Status200OK)
        {
            buffer.Position = 0;
            await buffer.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        bool openMetrics = context.Response.ContentType?.StartsWith("application/openmetrics-text", StringComparison.Ordinal) == true;
        ReadOnlyMemory<byte> exported = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (openMetrics && exported.Span.EndsWith(s_eof))
        {
            exported = exported[..^s_eof.Length];
        }

        var sb = new StringBuilder();
        foreach (IHistogramFamily family in histograms())
        {
            HistogramFamilyWriter.Write(sb, family, openMetrics);
        }

        if (openMetrics)
        {
            sb.Append("# EOF\n");
        }

        byte[] ours = Encoding.UTF8.GetBytes(sb.ToString());
        if (!gzip)
        {
            context.Response.ContentLength = exported.Length + ours.Length;
            await body.WriteAsync(exported, context.RequestAborted).ConfigureAwait(false);
            await body.WriteAsync(ours, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var compressed = new MemoryStream();
        using (var zip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            zip.Write(exported.Span);
            zip.Write(ours);
        }

        context.Response.Headers.ContentEncoding = "gzip";
        context.Response.ContentLength = compressed.Length;
        await body.WriteAsync(compressed.GetBuffer().AsMemory(0, (int)compressed.Length), context.RequestAborted).ConfigureAwait(false);
    }
}
