using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;

namespace BpfAgent.Web;

/// <summary>
/// http_server_config.headers on every response, and rate_limit: a token bucket over all requests, 429 when empty
/// (checked before basic auth, so refused requests cost no bcrypt).
/// </summary>
public sealed class ResponseLimits(WebConfig web, WebMetrics metrics)
{
    private readonly TokenBucketRateLimiter? _limiter = web.RateLimit is RateLimitConfig r
        ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = r.Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = r.Interval,
            QueueLimit = 0,
            AutoReplenishment = true,
        })
        : null;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        foreach ((string name, string value) in web.Http.Headers)
        {
            context.Response.Headers[name] = value;
        }

        if (_limiter is not null)
        {
            using RateLimitLease lease = _limiter.AttemptAcquire();
            if (!lease.IsAcquired)
            {
                metrics.Refused("rate_limited");
                context.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                return;
            }
        }

        await next(context).ConfigureAwait(false);
    }
}
