using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace BpfAgent.Web;

/// <summary>
/// Basic auth on every endpoint, as exporter-toolkit does (401 with a Basic challenge), with one exception: GET
/// /healthz without credentials answers its status code and up/degraded only, so that kubelet probes (which cannot
/// carry a password without writing it into the pod spec) work; the detailed report still needs the password.
/// Wrong credentials are 401 on /healthz too.
/// </summary>
public sealed class BasicAuthMiddleware(PasswordChecker checker, WebMetrics metrics)
{
    public const string HealthPath = "/healthz";

    private static readonly object s_anonymous = new();

    /// <summary>Whether this request reached its endpoint without credentials (only /healthz does).</summary>
    public static bool IsAnonymous(HttpContext context) => context.Items.ContainsKey(s_anonymous);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (!TryCredentials(context.Request, out string user, out string password))
        {
            if (context.Request.Path.Equals(HealthPath, StringComparison.Ordinal))
            {
                context.Items[s_anonymous] = true;
                await next(context).ConfigureAwait(false);
                return;
            }

            metrics.Refused("no_credentials");
            Challenge(context);
            return;
        }

        switch (await checker.CheckAsync(user, password, context.RequestAborted).ConfigureAwait(false))
        {
            case PasswordVerdict.Accepted:
                await next(context).ConfigureAwait(false);
                return;
            case PasswordVerdict.Busy:
                metrics.Refused("busy");
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                context.Response.Headers.RetryAfter = "1";
                return;
            default:
                metrics.Refused("bad_credentials");
                Challenge(context);
                return;
        }
    }

    private static void Challenge(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Basic realm=\"bpf-agent\", charset=\"UTF-8\"";
    }

    /// <summary>The user and password of an <c>Authorization: Basic</c> header.</summary>
    internal static bool TryCredentials(HttpRequest request, out string user, out string password)
    {
        user = password = "";
        if (!AuthenticationHeaderValue.TryParse(request.Headers.Authorization.ToString(), out AuthenticationHeaderValue? header)
            || !header.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return false;
        }

        byte[] decoded = new byte[header.Parameter.Length];
        if (!Convert.TryFromBase64String(header.Parameter, decoded, out int length))
        {
            return false;
        }

        string text = Encoding.UTF8.GetString(decoded, 0, length);
        int colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return false;
        }

        (user, password) = (text[..colon], text[(colon + 1)..]);
        return true;
    }
}
