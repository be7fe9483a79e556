using Bpf;
using BpfAgent.Configuration;
using BpfAgent.Health;
using BpfAgent.Logs;
using BpfAgent.Metrics;
using BpfAgent.Metrics.Exposition;
using BpfAgent.ProgramSets;
using BpfAgent.Systemd;
using BpfAgent.Web;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using Serilog;

namespace BpfAgent;

/// <summary>Wires the daemon: Kestrel on the configured address, Serilog, OpenTelemetry, the program sets and systemd.</summary>
public static class AgentHost
{
    public const string ConsoleTemplate = LogOutput.ConsoleTemplate;

    /// <summary>
    /// A set that does not match its object is a configuration error found in StartAsync; it fails the host's
    /// start, and Program.cs reports each error once with its file, key and fix. The host's own "Hosting failed
    /// to start" would repeat it with a stack trace, at error priority, for an ordinary config mistake.
    /// </summary>
    internal static bool IsHostStartConfigError(Serilog.Events.LogEvent e) =>
        e.Exception is ConfigException
        && e.Properties.TryGetValue("SourceContext", out Serilog.Events.LogEventPropertyValue? source)
        && source is Serilog.Events.ScalarValue { Value: "Microsoft.Extensions.Hosting.Internal.Host" };

    public static WebApplication Build(AgentConfiguration config, string[] hostArgs)
    {
        AgentOptions options = config.Options;
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            Args = hostArgs,
            ContentRootPath = options.ConfigDirectory,
        });
        builder.Configuration.Sources.Clear();
        builder.Configuration.AddConfiguration(config.Configuration);

        builder.Host.UseSystemd();
        builder.Services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        builder.Services.AddSerilog((services, lc) => lc
            .ReadFrom.Configuration(config.Configuration)
            .Filter.ByExcluding(IsHostStartConfigError)
            .Enrich.FromLogContext()
            .Enrich.With<JournaldPriorityEnricher>()
            .WriteTo.AgentConsole(options.LogFormat));

        WebPipeline.Listen(builder, config.Web, options.Listen);
        builder.WebHost.ConfigureKestrel(k =>
        {
            // Only two small GET endpoints: tight limits keep slow or malformed clients cheap.
            k.AddServerHeader = false;
            k.Limits.MaxConcurrentConnections = 64;
            k.Limits.MaxRequestHeaderCount = 32;
            k.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            k.Limits.MaxRequestLineSize = 4096;
            k.Limits.MaxRequestBodySize = 1024;
            k.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
            k.Limits.KeepAliveTimeout = TimeSpan.FromSeconds(30);
        });
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(options.ShutdownTimeoutSeconds));

        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(config.Sets);
        builder.Services.AddSingleton<ProgramSetRegistry>();
        builder.Services.AddSingleton(Log.Logger);
        builder.Services.AddSingleton<ProgramSetManager>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProgramSetManager>());
        builder.Services.AddHostedService<SystemdNotifications>();
        builder.Services.AddSingleton(new ConfigurationSource(options.ConfigDirectory, hostArgs));
        builder.Services.AddHostedService<ConfigReloader>();
        builder.Services.AddHostedService<DropAlarmMonitor>();
        builder.Services.AddSingleton(sp =>
        {
            var libbpfLogger = new RateLimitedLogger(sp.GetRequiredService<ILoggerFactory>().CreateLogger("libbpf"), options.LibbpfLogLinesPerSecond);
            LibbpfLog.SetLogger(libbpfLogger);
            return libbpfLogger;
        });
        builder.Services.AddSingleton(sp => new AgentMetrics(
            sp.GetRequiredService<ProgramSetRegistry>(), sp.GetRequiredService<ProgramSetManager>(),
            () => sp.GetRequiredService<RateLimitedLogger>().Suppressed, options.EnableRunTimeStats));
        builder.Services.AddSingleton<ProcessMetrics>();
        builder.Services.AddSingleton(sp => new MetricsEndpoint(sp.GetRequiredService<ProgramSetRegistry>().Histograms, sp.GetRequiredService<ProgramSetRegistry>().ReadMaps));

        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("bpf-agent", serviceInstanceId: Environment.MachineName))
            .WithMetrics(m => m
            .AddMeter(AgentMetrics.MeterName, ProcessMetrics.MeterName, SetInstruments.MeterPrefix + "*")
            .AddPrometheusExporter(o =>
            {
                o.ScrapeResponseCacheDurationMilliseconds = 0;
                // The Prometheus idiom: no otel_scope_* label on every series, no target_info family.
                o.ScopeInfoEnabled = false;
                o.TargetInfoEnabled = false;
            }));

        WebApplication app = builder.Build();
        _ = app.Services.GetRequiredService<RateLimitedLogger>();
        _ = app.Services.GetRequiredService<AgentMetrics>();
        _ = app.Services.GetRequiredService<ProcessMetrics>();

        // TLS, basic auth, headers and the rate limit of the web config apply to every endpoint below.
        WebPipeline.UseWebConfig(app, config.Web);
        app.MapGet("/", IndexPage.Handle);

        // Histograms aggregated by the agent join the exporter's families in the same response.
        MetricsEndpoint metrics = app.Services.GetRequiredService<MetricsEndpoint>();
        app.Use(metrics.InvokeAsync);
        app.MapPrometheusScrapingEndpoint(MetricsEndpoint.Path);
        bool reportDropAlarms = options.ReportDropAlarmsInHealth;
        app.MapGet("/healthz", (HttpContext context, ProgramSetRegistry registry, ProgramSetManager manager) =>
            HealthEndpoint.Handle(registry, manager, reportDropAlarms, detailed: !BasicAuthMiddleware.IsAnonymous(context)));
        return app;
    }
}
