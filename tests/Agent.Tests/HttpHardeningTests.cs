using System.Net;
using System.Net.Sockets;
using System.Text;
using static BpfAgent.Tests.MetricSamples;

namespace BpfAgent.Tests;

/// <summary>
/// The HTTP side is the agent's only network surface: it serves /metrics and /healthz and nothing else, and
/// malformed or slow clients are cut off by Kestrel's limits without touching the poll thread, which keeps
/// counting kernel events while they hang on.
/// </summary>
public sealed class HttpHardeningTests
{
    [KernelFact]
    public async Task Only_metrics_healthz_and_the_index_are_served_and_malformed_or_slow_clients_do_not_stop_the_pipeline()
    {
        int self = Environment.ProcessId;
        using var config = new TestConfig();
        config.AddSet("exec", ProgramSetJson.Exec(filterPpid: self));
        using var agent = AgentProcess.StartWithConfig(config);
        await AgentHealth.WaitHealthyAsync(agent, config.Url);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(config.Url + "/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(config.Url + "/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(config.Url + "/")).StatusCode); // the index page, nothing below it
        foreach (string path in new[] { "/index.html", "/admin", "/metrics/../etc/passwd", "/debug/pprof" })
        {
            using HttpResponseMessage r = await http.GetAsync(config.Url + path);
            Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        }

        using (HttpResponseMessage post = await http.PostAsync(config.Url + "/healthz", new StringContent("x")))
        {
            Assert.False(post.IsSuccessStatusCode, $"POST /healthz answered {post.StatusCode}");
        }

        // Malformed requests get an error status, never a crash: a request line that is not HTTP (Kestrel
        // reads its last word as the version: 505) and a header line without a colon (400).
        string garbage = await RawExchangeAsync(config.Port, "GARBAGE \u0001\u0002 NOT-HTTP\r\n\r\n");
        Assert.Matches("^HTTP/1.1 (400|505)", garbage);
        string badHeader = await RawExchangeAsync(config.Port, "GET /metrics HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 400", badHeader, StringComparison.Ordinal);

        // Headers larger than the 16 KiB limit are refused.
        string huge = await RawExchangeAsync(config.Port, $"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: {new string('a', 32 * 1024)}\r\n\r\n");
        Assert.Matches("^HTTP/1.1 (431|400)", huge);

        // Slow clients: 20 connections that never finish their headers. While they hang on, the poll thread
        // and worker keep counting the test's execs exactly, and Kestrel closes them after its header timeout.
        var slow = new List<Socket>();
        for (int i = 0; i < 20; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await s.ConnectAsync(IPAddress.Loopback, config.Port);
            await s.SendAsync(Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
            slow.Add(s);
        }

        try
        {
            const int Execs = 5;
            TestChildren.Run(TestChildren.True, Execs);
            string text = await SettleAsync(config.Url, t => Sum(t, "exec_events_total", ("comm", "true")) >= Execs, TimeSpan.FromSeconds(10));
            Assert.Equal(Execs, Sum(text, "exec_events_total", ("comm", "true")));

            // RequestHeadersTimeout is 5 s: every slow connection is closed by the server (a read returns 0 or fails).
            foreach (Socket s in slow)
            {
                Assert.True(await ClosedByServerAsync(s, TimeSpan.FromSeconds(15)), "a slow connection was not closed by the agent");
            }
        }
        finally
        {
            slow.ForEach(s => s.Dispose());
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(config.Url + "/healthz")).StatusCode);
        Assert.Equal(0, agent.Terminate(TimeSpan.FromSeconds(5)));
    }

    private static async Task<string> RawExchangeAsync(int port, string request)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, port);
        try
        {
            await s.SendAsync(Encoding.Latin1.GetBytes(request));
        }
        catch (SocketException)
        {
            // the server may close while we still send a huge header
        }

        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.Latin1.GetString(buffer, 0, n);
    }

    private static async Task<bool> ClosedByServerAsync(Socket s, TimeSpan timeout)
    {
        var buffer = new byte[1024];
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                int n = await s.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                if (n == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
