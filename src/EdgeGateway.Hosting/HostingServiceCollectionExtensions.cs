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
using SystemdLifetime = Microsoft.Extensions.Hosting.Systemd.SystemdLifetime;
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
        AddSystemdLifetime(services);
        return services;
    }

    /// <summary>
    /// The host's lifetime is Microsoft.Extensions.Hosting.Systemd's <see cref="SystemdLifetime"/> when systemd is
    /// listening. Not through <c>AddSystemd()</c>: that decides by the parent process being systemd, which is false
    /// when ExecStart runs a wrapper (a shell, <c>env</c>, <c>nice</c>) that then starts the gateway. Here
    /// NOTIFY_SOCKET decides (a Type=notify unit always sets it), or the variables systemd sets for every unit.
    /// The lifetime's READY=1 is held back (see <see cref="SystemdLifetimeNotifier"/>).
    /// </summary>
    private static void AddSystemdLifetime(IServiceCollection services)
    {
        services.TryAddSingleton<SystemdLifetimeNotifier>();
        services.TryAddSingleton<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>(sp => sp.GetRequiredService<SystemdLifetimeNotifier>());
        // Added last so it replaces the default ConsoleLifetime, as AddSystemd() does; decided when the host is built.
        services.AddSingleton<IHostLifetime>(sp =>
        {
            var environment = sp.GetRequiredService<SystemdEnvironment>();
            return environment.NotifySocket is not null || environment.IsSystemdService
                ? new SystemdLifetime(sp.GetRequiredService<IHostEnvironment>(), sp.GetRequiredService<IHostApplicationLifetime>(),
                    sp.GetRequiredService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>(), sp.GetRequiredService<ILoggerFactory>())
                : new Microsoft.Extensions.Hosting.Internal.ConsoleLifetime(
                    sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<ConsoleLifetimeOptions>>(), sp.GetRequiredService<IHostEnvironment>(),
                    sp.GetRequiredService<IHostApplicationLifetime>(), sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<HostOptions>>(),
                    sp.GetRequiredService<ILoggerFactory>());
        });
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
