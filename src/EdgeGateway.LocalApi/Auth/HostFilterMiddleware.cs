using EdgeGateway.LocalApi.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.LocalApi.Auth;

/// <summary>
/// First in the pipeline, in front of every endpoint on the port (API, WebSocket upgrade, /healthz, /metrics,
/// static files): a request whose <c>Host</c> is not one of the gateway's names gets 400 <c>host_not_allowed</c>,
/// one whose browser <c>Origin</c> is not allowed gets 403 <c>origin_not_allowed</c>; both before any handler runs.
/// </summary>
internal sealed class HostFilterMiddleware(RequestDelegate next, HostAllowList hosts, LocalApiMetrics metrics, ILoggerFactory loggers)
{
    private const int MaxLoggedLength = 100;
    private readonly ILogger _logger = loggers.CreateLogger("EdgeGateway.LocalApi.HostFilter");

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!hosts.IsAllowedHost(request.Host))
        {
            var host = Shorten(request.Host.Value);
            _logger.HostRefused(context.Connection.RemoteIpAddress?.ToString(), host);
            Count("host_filter", 400);
            await LocalApiEndpoints.ErrorAsync(context, ApiErrors.HostNotAllowed,
                $"host \"{host}\" is not a name of this gateway; add it to LocalApi:AllowedHosts").ConfigureAwait(false);
            return;
        }

        var origin = request.Headers.Origin.ToString();
        if (!hosts.IsAllowedOrigin(origin))
        {
            _logger.OriginRefused(context.Connection.RemoteIpAddress?.ToString(), Shorten(origin));
            Count("origin_filter", 403);
            await LocalApiEndpoints.ErrorAsync(context, ApiErrors.OriginNotAllowed,
                $"origin {Shorten(origin)} is not allowed; add it to LocalApi:Limits:AllowedOrigins").ConfigureAwait(false);
            return;
        }

        await next(context).ConfigureAwait(false);
    }

    private void Count(string route, int status)
        => metrics.HttpRequests.Add(1, new KeyValuePair<string, object?>("route", route), new KeyValuePair<string, object?>("status", status));

    private static string Shorten(string? text)
        => text is null ? "" : text.Length <= MaxLoggedLength ? text : text[..MaxLoggedLength] + "...";

    /// <summary>Puts the filter at the very start of the application's pipeline, whatever the host maps later.</summary>
    internal sealed class StartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.UseMiddleware<HostFilterMiddleware>(app.ApplicationServices.GetRequiredService<HostAllowList>());
            next(app);
        };
    }
}
