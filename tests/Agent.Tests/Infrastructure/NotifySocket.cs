using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace BpfAgent.Tests;

/// <summary>One sd_notify assignment (such as READY=1) and when it arrived, from the socket's creation.</summary>
public sealed record Notification(string State, TimeSpan At);

/// <summary>
/// A Unix datagram socket the test owns, standing in for systemd's NOTIFY_SOCKET: records every assignment
/// the agent sends, with its arrival time.
/// </summary>
public sealed class NotifySocket : IDisposable
{
    private readonly Socket _socket;
    private readonly string _directory;
    private readonly List<Notification> _received = [];
    private readonly Lock _lock = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _receiver;

    public NotifySocket()
    {
        _directory = Directory.CreateTempSubdirectory("bpf-agent-notify-").FullName;
        Path = System.IO.Path.Combine(_directory, "notify.sock");
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(new UnixDomainSocketEndPoint(Path));
        _receiver = Task.Run(ReceiveAsync);
    }

    public string Path { get; }

    /// <summary>Time since the socket was created (the clock of <see cref="Notification.At"/>).</summary>
    public TimeSpan Now => _clock.Elapsed;

    public IReadOnlyList<Notification> Received
    {
        get
        {
            lock (_lock)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>The first <paramref name="state"/> that arrived at or after <paramref name="since"/>, waiting up to <paramref name="timeout"/>.</summary>
    public async Task<Notification?> WaitForAsync(string state, TimeSpan timeout, TimeSpan since = default)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            Notification? n = Received.FirstOrDefault(x => x.State == state && x.At >= since);
            if (n is not null || sw.Elapsed > timeout)
            {
                return n;
            }

            await Task.Delay(5);
        }
    }

    private async Task ReceiveAsync()
    {
        byte[] buffer = new byte[4096];
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int n = await _socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                TimeSpan at = _clock.Elapsed;
                string message = Encoding.UTF8.GetString(buffer, 0, n);
                lock (_lock)
                {
                    foreach (string line in message.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    {
                        _received.Add(new Notification(line, at));
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
        catch (SocketException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _socket.Dispose();
        _receiver.Wait(TimeSpan.FromSeconds(5));
        _stop.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
