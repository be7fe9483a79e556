using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace BpfAgent.Configuration;

/// <summary>
/// The HTTP listen address (<c>Agent:Listen</c>): its form is checked with the rest of the configuration, and
/// whether it can be bound is tried before any program is attached, so an address in use fails in one line.
/// </summary>
public static partial class ListenAddress
{
    public const string Fix = "stop what listens there, or choose another address: --Agent:Listen=http://127.0.0.1:PORT, BPF_AGENT_Agent__Listen=http://127.0.0.1:PORT, or \"Listen\" in agent.json";

    /// <summary>What is wrong with the form of <paramref name="url"/>, or null.</summary>
    public static string? ProblemWith(string url)
    {
        Match m = Url().Match(url);
        if (!m.Success)
        {
            return $"'{url}' is not an http:// or https:// URL";
        }

        if (m.Groups["port"].Success)
        {
            string digits = m.Groups["port"].Value;
            if (!int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            {
                return $"port {digits} of '{url}' is outside 1-65535";
            }
        }

        return Uri.TryCreate(url, UriKind.Absolute, out _) || m.Groups["host"].Value is "*" or "+" ? null : $"'{url}' is not an http:// or https:// URL";
    }

    /// <summary>The host (without IPv6 brackets) and port of a URL that has no <see cref="ProblemWith"/>; the port defaults by scheme.</summary>
    public static (string Host, int Port) HostAndPort(string url)
    {
        Match m = Url().Match(url);
        int fallback = url.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? 443 : 80;
        int port = m.Groups["port"].Success ? int.Parse(m.Groups["port"].Value, CultureInfo.InvariantCulture) : fallback;
        return (m.Groups["host"].Value.Trim('[', ']'), port);
    }

    /// <summary>
    /// Tries to bind the address as Kestrel will (SO_REUSEADDR, so a connection in TIME_WAIT does not count) and
    /// lets it go at once. Returns the problem in one line, or null when it can be bound.
    /// </summary>
    public static string? TryBind(string url)
    {
        Match m = Url().Match(url);
        if (!m.Success)
        {
            return ProblemWith(url);
        }

        (string host, int port) = HostAndPort(url);
        IPAddress[] addresses = host switch
        {
            "localhost" => [IPAddress.Loopback, IPAddress.IPv6Loopback],
            "*" or "+" or "" => [IPAddress.IPv6Any],
            _ when IPAddress.TryParse(host, out IPAddress? ip) => [ip],
            _ => [IPAddress.IPv6Any], // Kestrel binds a host name it cannot take literally to every address
        };

        foreach (IPAddress address in addresses)
        {
            try
            {
                using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                if (address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = true;
                }

                socket.Bind(new IPEndPoint(address, port));
            }
            catch (SocketException e) when (address.Equals(IPAddress.IPv6Loopback) && e.SocketErrorCode == SocketError.AddressNotAvailable)
            {
                // localhost without IPv6: Kestrel binds the IPv4 loopback alone.
            }
            catch (SocketException e)
            {
                string why = e.SocketErrorCode switch
                {
                    SocketError.AddressAlreadyInUse => "the address is already in use",
                    SocketError.AddressNotAvailable => "no interface of this host has that address",
                    SocketError.AccessDenied => "permission denied (ports below 1024 need CAP_NET_BIND_SERVICE)",
                    _ => e.Message,
                };
                return $"cannot listen on {url}: {why}";
            }
        }

        return null;
    }

    [GeneratedRegex(@"^https?://(?<host>\[[^\]]*\]|[^/:\[\]]*)(:(?<port>[0-9]*))?/?$", RegexOptions.IgnoreCase)]
    private static partial Regex Url();
}
