using System.Text.Json;
using BpfAgent.Pipeline;
using BpfAgent.ProgramSets;
using Microsoft.AspNetCore.Http;

namespace BpfAgent.Health;

/// <summary>
/// GET /healthz: 200 when every program set is up and the poll thread is alive; 503 naming what is not.
/// Sets with a drop alarm are reported too, and make the answer 503 when ReportDropAlarms is on. Without
/// <paramref name="detailed"/> (a probe without the basic auth password) only the status is said.
/// </summary>
public static class HealthEndpoint
{
    public static IResult Handle(ProgramSetRegistry registry, ProgramSetManager manager, bool reportDropAlarms, bool detailed = true)
    {
        var failed = registry.Sets.Where(s => s.Status != ProgramSetStatus.Up).ToList();
        var alarms = registry.Sets.Where(s => s.DropAlarm).Select(s => s.Name).ToList();
        bool pollerOk = manager.Poller.IsRunning && manager.Poller.Failure is null;
        bool healthy = failed.Count == 0 && pollerOk && (!reportDropAlarms || alarms.Count == 0);
        if (!detailed)
        {
            return Results.Json(new HealthStatus(healthy ? "up" : "degraded"), HealthJson.Default.HealthStatus, statusCode: healthy ? 200 : 503);
        }

        var body = new HealthReport(
            healthy ? "up" : "degraded",
            registry.Sets.Select(s => new SetHealth(s.Name, s.Status.ToString().ToLowerInvariant(), s.Error, s.DropAlarm)).ToList(),
            failed.Select(s => s.Name).ToList(),
            pollerOk,
            alarms);
        return Results.Json(body, HealthJson.Default.HealthReport, statusCode: healthy ? 200 : 503);
    }
}

public sealed record HealthStatus(string Status);

public sealed record SetHealth(string Name, string Status, string? Error, bool DropAlarm);

public sealed record HealthReport(string Status, IReadOnlyList<SetHealth> Sets, IReadOnlyList<string> Failed, bool Poller, IReadOnlyList<string> DropAlarms);

[System.Text.Json.Serialization.JsonSourceGenerationOptions(PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthReport))]
[System.Text.Json.Serialization.JsonSerializable(typeof(HealthStatus))]
internal sealed partial class HealthJson : System.Text.Json.Serialization.JsonSerializerContext
{
}
