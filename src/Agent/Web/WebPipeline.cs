using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace BpfAgent.Web;

/// <summary>Wires a web config into the host: the listener (HTTPS or plain) and the middleware ahead of every endpoint.</summary>
public static class WebPipeline
{
    /// <summary>Listens on <paramref name="listen"/>: through <see cref="TlsEndpoint"/> when the web config has TLS.</summary>
    public static void Listen(WebApplicationBuilder builder, WebConfig? web, string listen)
    {
        builder.Services.AddSingleton<WebMetrics>();
        if (web?.Tls is null)
        {
            builder.WebHost.UseUrls(listen);
            return;
        }

        builder.WebHost.ConfigureKestrel((KestrelServerOptions k) =>
        {
            var endpoint = new TlsEndpoint(web, k.ApplicationServices.GetRequiredService<WebMetrics>(),
                k.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("bpf_agent.web"));
            endpoint.Listen(k, listen);
        });
    }

    /// <summary>Response headers, the rate limit and basic auth, in that order, before any endpoint.</summary>
    public static void UseWebConfig(WebApplication app, WebConfig? web)
    {
        WebMetrics metrics = app.Services.GetRequiredService<WebMetrics>();
        if (web is null)
        {
            return;
        }

        app.Logger.LogInformation("Web config {File}: {Summary}", web.File, WebConfigReader.Summary(web));

        if (web.Http.Headers.Count > 0 || web.RateLimit is not null)
        {
            app.Use(new ResponseLimits(web, metrics).InvokeAsync);
        }

        if (web.HasUsers)
        {
            app.Use(new BasicAuthMiddleware(new PasswordChecker(web.Users, metrics), metrics).InvokeAsync);
        }
    }
}
