using System.Diagnostics;
using System.Net;
using System.Text.Json;

namespace BpfAgent.Tests;

/// <summary>GET /healthz of a running agent, and a bounded wait until it answers.</summary>
public static class AgentHealth
{
    public static async Task<(HttpStatusCode Status, JsonDocument Body)> GetAsync(string url)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using HttpResponseMessage r = await http.GetAsync(url + "/healthz");
        string body = await r.Content.ReadAsStringAsync();
        return (r.StatusCode, JsonDocument.Parse(body));
    }

    /// <summary>
    /// Waits until /healthz answers (the sets are loaded before Kestrel starts listening); fails the test with
    /// the agent's output when it exits or does not answer within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<(HttpStatusCode Status, JsonDocument Body)> WaitAsync(AgentProcess agent, string url, TimeSpan? timeout = null)
    {
        TimeSpan limit = timeout ?? TimeSpan.FromSeconds(20);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < limit && !agent.HasExited)
        {
            try
            {
                return await GetAsync(url);
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        Assert.Fail($"the agent did not answer /healthz within {limit} (exited: {agent.HasExited}); output:\n{agent.Output}");
        throw new UnreachableException();
    }

    /// <summary>Waits for /healthz and asserts 200: every set is up.</summary>
    public static async Task WaitHealthyAsync(AgentProcess agent, string url)
    {
        (HttpStatusCode status, JsonDocument body) = await WaitAsync(agent, url);
        using (body)
        {
            Assert.True(status == HttpStatusCode.OK, $"/healthz answered {(int)status}: {body.RootElement}\nagent output:\n{agent.Output}");
        }
    }
}
