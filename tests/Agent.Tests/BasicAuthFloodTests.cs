using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Xunit.Abstractions;

namespace BpfAgent.Tests;

/// <summary>
/// bcrypt is slow on purpose; a client flooding wrong passwords must not cost the pipeline samples. A ring workload
/// runs while several clients send new wrong passwords as fast as the agent answers: every sample produced is
/// delivered, none dropped at any stage, and the scraper whose password was verified once keeps getting 200.
/// </summary>
public sealed class BasicAuthFloodTests(ITestOutputHelper output)
{
    private const string User = "prometheus";
    private const string Password = "right";

    [KernelFact]
    public async Task A_flood_of_wrong_passwords_gets_401_or_429_and_the_ring_pipeline_delivers_every_sample()
    {
        const int Burst = 20;
        using var trigger = new SyscallTrigger();
        using var config = new TestConfig();
        ReliabilityConfig.WriteAgentJson(config);
        config.AddSet("flood", ReliabilityConfig.FloodSet(trigger.Tid, Burst, program: "flood_wide"));
        // Cost 10, what `htpasswd -nBC 10` makes: tens to hundreds of ms of one core per check.
        string web = Path.Combine(config.Directory, "web.yml");
        File.WriteAllText(web, $"basic_auth_users:\n  {User}: {BCrypt.Net.BCrypt.HashPassword(Password, 10)}\n");
        using var agent = AgentProcess.StartWithConfig(config, null, $"--Agent:WebConfigFile={web}");
        await AgentHealth.WaitHealthyAsync(agent, config.Url); // anonymous /healthz answers the status
        using HttpClient scraper = Client(User, Password);
        Assert.Equal(HttpStatusCode.OK, (await scraper.GetAsync(config.Url + "/metrics")).StatusCode);

        // About 20k samples a second through the 1 MiB ring for the whole flood.
        trigger.StartContinuous(perBatch: 2, pauseMs: 2);
        var flood = Stopwatch.StartNew();
        TimeSpan length = TimeSpan.FromSeconds(6);
        int sent = 0, unauthorized = 0, busy = 0, other = 0;
        async Task Attacker(int id)
        {
            using HttpClient c = Client(User, "");
            for (int i = 0; i < 2000 && flood.Elapsed < length; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, config.Url + "/metrics");
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{User}:guess-{id}-{i}")));
                using HttpResponseMessage r = await c.SendAsync(request);
                Interlocked.Increment(ref sent);
                _ = r.StatusCode switch
                {
                    HttpStatusCode.Unauthorized => Interlocked.Increment(ref unauthorized),
                    HttpStatusCode.TooManyRequests => Interlocked.Increment(ref busy),
                    _ => Interlocked.Increment(ref other),
                };
            }
        }

        Task attackers = Task.WhenAll(Enumerable.Range(0, 8).Select(Attacker));
        var scrapeTimes = new List<double>();
        while (!attackers.IsCompleted)
        {
            var sw = Stopwatch.StartNew();
            using HttpResponseMessage r = await scraper.GetAsync(config.Url + "/metrics");
            scrapeTimes.Add(sw.Elapsed.TotalMilliseconds);
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            await Task.Delay(250);
        }

        await attackers;
        trigger.StopContinuous();
        long produced = trigger.Fired * Burst;

        string text = await scraper.GetStringAsync(config.Url + "/metrics");
        var sw2 = Stopwatch.StartNew();
        while (RingAccount.Read(text, "flood", "wide_events").Received < produced && sw2.Elapsed < TimeSpan.FromSeconds(20))
        {
            await Task.Delay(200);
            text = await scraper.GetStringAsync(config.Url + "/metrics");
        }

        await Task.Delay(500);
        text = await scraper.GetStringAsync(config.Url + "/metrics");
        RingAccount account = RingAccount.Read(text, "flood", "wide_events");
        double checks = MetricSamples.Sum(text, "bpf_agent_http_password_checks_total");
        output.WriteLine($"flood {flood.Elapsed.TotalSeconds:F1} s: {sent} wrong-password requests ({unauthorized} 401, {busy} 429, {other} other), " +
            $"{checks} bcrypt checks; samples produced {produced} ({produced / flood.Elapsed.TotalSeconds:F0}/s), {account}; " +
            $"verified scraper: {scrapeTimes.Count} scrapes, max {scrapeTimes.Max():F0} ms, median {scrapeTimes.Order().ElementAt(scrapeTimes.Count / 2):F0} ms");

        Assert.Equal(0, other);
        Assert.Equal(sent, unauthorized + busy);
        Assert.True(sent > 8, $"the flood sent only {sent} requests");
        // The budget: bcrypt at most a quarter of one core, so at most ~1 check per 4 check-times (plus the first).
        Assert.True(checks < unauthorized + 2, $"{checks} bcrypt checks for {unauthorized} refusals");
        Assert.Equal((double)produced, account.Received);
        Assert.Equal(account.Received, account.Delivered);
        Assert.Equal(0, account.Kernel + account.Channel + account.Decode);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(10)));
    }

    private static HttpClient Client(string user, string password)
    {
        var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
        return http;
    }
}
