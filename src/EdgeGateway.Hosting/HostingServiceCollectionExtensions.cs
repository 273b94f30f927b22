using System.Text;
using EdgeGateway.Health;
using EdgeGateway.Hosting.Health;
using EdgeGateway.Hosting.Metrics;
using EdgeGateway.Hosting.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Hosting;

public static class HostingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the systemd notifier and its hosted service (READY/STATUS/WATCHDOG/STOPPING), the
    /// <see cref="ReadinessGate"/>, the <see cref="LoopHeartbeatRegistry"/>, health aggregation and the
    /// Prometheus exporter. <paramref name="section"/> is the <c>Hosting</c> configuration section.
    /// Registrations use TryAdd, so a test or the composition root may register its own first
    /// (a <see cref="TimeProvider"/>, a <see cref="SystemdEnvironment"/>, an <see cref="IStatusLineProvider"/>).
    /// </summary>
    public static IServiceCollection AddGatewayHosting(this IServiceCollection services, IConfiguration section)
    {
        services.AddOptions<HostingOptions>().Bind(section);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LoopHeartbeatRegistry>();
        services.TryAddSingleton(_ => SystemdEnvironment.FromProcess());
        services.TryAddSingleton<ISystemdNotifier>(sp => new SystemdNotifier(
            sp.GetRequiredService<SystemdEnvironment>(), sp.GetService<ILogger<SystemdNotifier>>()));
        services.TryAddSingleton<ReadinessGate>();
        services.TryAddSingleton<HealthAggregator>();
        services.TryAddSingleton<IStatusLineProvider, HealthStatusLineProvider>();
        services.TryAddSingleton<PrometheusExporter>();
        services.TryAddSingleton<IMetricsExposition>(sp => sp.GetRequiredService<PrometheusExporter>());
        // Constructed at host start so the listener sees measurements before the first scrape.
        services.AddHostedService<MetricsListenerStarter>();
        services.AddHostedService<SystemdNotifyService>();
        return services;
    }

    /// <summary>
    /// Console logging for where we run: the journald format (syslog priority prefixes, one line per entry)
    /// under systemd, a readable single-line console otherwise.
    /// </summary>
    public static ILoggingBuilder ConfigureGatewayLogging(this ILoggingBuilder logging, SystemdEnvironment? environment = null)
    {
        environment ??= SystemdEnvironment.FromProcess();
        logging.ClearProviders();
        if (environment.IsSystemdService)
        {
            // journald stamps each entry itself.
            logging.AddSystemdConsole(o =>
            {
                o.IncludeScopes = false;
                o.TimestampFormat = null;
            });
        }
        else
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.IncludeScopes = false;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }

        return logging;
    }

    /// <summary>Maps <c>GET /metrics</c> (Prometheus text 0.0.4) and <c>GET /healthz</c> (JSON; 503 when unhealthy).</summary>
    public static IEndpointRouteBuilder MapGatewayHostingEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMethods("/metrics", ["GET", "HEAD"], static async context =>
        {
            var exposition = context.RequestServices.GetRequiredService<IMetricsExposition>();
            var body = Encoding.UTF8.GetBytes(exposition.Scrape());
            context.Response.StatusCode = StatusCodes.Status200OK;
            context.Response.ContentType = exposition.ContentType;
            context.Response.Headers.CacheControl = "no-store";
            context.Response.ContentLength = body.Length;
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await context.Response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            }
        });
        endpoints.MapGet("/healthz", static context =>
            HealthEndpoint.Handle(context, context.RequestServices.GetRequiredService<HealthAggregator>()));
        return endpoints;
    }

    private sealed class MetricsListenerStarter(IMetricsExposition exposition) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            GC.KeepAlive(exposition);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
