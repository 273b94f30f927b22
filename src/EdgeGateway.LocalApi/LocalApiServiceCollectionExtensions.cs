using EdgeGateway.Health;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Commands;
using EdgeGateway.LocalApi.Http;
using EdgeGateway.LocalApi.Hub;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi;

public static class LocalApiServiceCollectionExtensions
{
    /// <summary>The ASP.NET Core category whose request-start/finish lines contain the full URL, query string included.</summary>
    internal const string RequestLogCategory = "Microsoft.AspNetCore.Hosting.Diagnostics";

    /// <summary>
    /// Binds <see cref="LocalApiOptions"/> from <paramref name="section"/> (normally <c>LocalApi</c>), validates them at
    /// start, and registers the hub, authentication, pilot control with its failsafe, and the drone-state bridge.
    /// Needs an <c>IDroneFleet</c> in DI; uses <see cref="TimeProvider"/> from DI (System if none).
    /// </summary>
    public static IServiceCollection AddLocalApi(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        var path = section is IConfigurationSection s ? s.Path : LocalApiOptions.SectionName;
        services.AddOptions<LocalApiOptions>()
            .Bind(section)
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<LocalApiOptions>>(new LocalApiOptionsValidator(path));
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<LocalApiMetrics>();
        services.TryAddSingleton<LocalHub>();
        services.TryAddSingleton<ILocalHub>(sp => sp.GetRequiredService<LocalHub>());
        services.AddSingleton<IHealthReporter>(sp => sp.GetRequiredService<LocalHub>());
        services.TryAddSingleton<ClientAuthenticator>();
        services.TryAddSingleton<HostAllowList>();
        // Host and Origin are checked first for every request on the port, including endpoints other capabilities map.
        services.AddTransient<IStartupFilter, HostFilterMiddleware.StartupFilter>();
        services.TryAddSingleton(sp => new PilotControl(
            sp.GetRequiredService<Drones.IDroneFleet>(), sp.GetRequiredService<LocalHub>(), sp.GetRequiredService<IOptions<LocalApiOptions>>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<PilotControl>>(),
            sp.GetRequiredService<LocalApiMetrics>(), sp.GetService<LoopHeartbeatRegistry>()));
        services.TryAddSingleton<CommandService>();
        services.TryAddSingleton<LocalApiEndpoints>();
        services.TryAddSingleton<FieldConsole.ConsoleAssets>();
        services.AddHostedService<DroneStatePublisher>();
        // Browsers put the WebSocket token in the URL (?token=), and ASP.NET Core's request log ("Request starting ...
        // /ws?token=...") writes the query string at Information. Capped here in code, whatever the configured levels.
        // A rule that names a provider beats every rule that does not (even `Logging:Console:LogLevel:Default`), so the
        // cap is also added, last, for each provider that configuration names; last wins among equally specific rules.
        services.Configure<LoggerFilterOptions>(o => o.AddFilter(RequestLogCategory, LogLevel.Warning));
        services.PostConfigure<LoggerFilterOptions>(o =>
        {
            foreach (var provider in o.Rules.Select(r => r.ProviderName).OfType<string>().Distinct(StringComparer.Ordinal).ToList())
            {
                o.Rules.Add(new LoggerFilterRule(provider, RequestLogCategory, LogLevel.Warning, filter: null));
            }
        });
        return services;
    }

    /// <summary>
    /// Maps <c>GET /api/drone/status</c>, <c>GET /api/drones</c>, <c>POST /api/drone/execute</c>, JSON 404/405 for the rest of
    /// <c>/api</c>, and the WebSocket <c>/ws</c> (with its own WebSockets middleware, so the host need not add one).
    /// </summary>
    public static IEndpointConventionBuilder MapLocalApi(this IEndpointRouteBuilder endpoints)
    {
        var api = endpoints.ServiceProvider.GetRequiredService<LocalApiEndpoints>();
        var limits = endpoints.ServiceProvider.GetRequiredService<IOptions<LocalApiOptions>>().Value.Limits;
        var group = endpoints.MapGroup("");
        group.Map("/api/drone/status", api.StatusAsync);
        group.Map("/api/drones", api.DronesAsync);
        group.Map("/api/gateway", api.GatewayAsync);
        group.Map("/api/drone/execute", api.ExecuteAsync);
        group.Map("/api/{**rest}", api.NotFoundAsync);
        var ws = endpoints.CreateApplicationBuilder();
        ws.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(limits.KeepAliveIntervalSeconds) });
        ws.Run(api.WebSocketAsync);
        group.Map("/ws", ws.Build());
        return group;
    }

    /// <summary>
    /// Puts the local API's origin and token checks (observer or better) in front of read-only endpoints
    /// that other capabilities map under <paramref name="pathPrefixes"/> (e.g. <c>/api/sensors</c>), so every
    /// <c>/api</c> call obeys the same roles. Call before mapping those endpoints.
    /// </summary>
    public static IApplicationBuilder UseLocalApiReadAccess(this IApplicationBuilder app, params string[] pathPrefixes)
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.ApplicationServices.GetRequiredService<LocalApiEndpoints>();
        return app.Use(async (context, next) =>
        {
            foreach (var prefix in pathPrefixes)
            {
                if (context.Request.Path.StartsWithSegments(prefix, StringComparison.OrdinalIgnoreCase))
                {
                    if (!await api.AuthorizeReadAsync(context).ConfigureAwait(false))
                    {
                        return;
                    }

                    break;
                }
            }

            await next(context).ConfigureAwait(false);
        });
    }

    /// <summary>
    /// Puts the local API's roles in front of <c>/healthz</c> and <c>/metrics</c> (mapped by the hosting capability):
    /// <c>/metrics</c> needs <c>LocalApi:Auth:MetricsRole</c>; <c>/healthz</c> answers everyone its overall status and
    /// only clients with <c>LocalApi:Auth:HealthDetailRole</c> (by token or trusted network) the per-component detail.
    /// </summary>
    public static IApplicationBuilder UseLocalApiHealthAccess(this IApplicationBuilder app, string healthPath = "/healthz", string metricsPath = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(app);
        var api = app.ApplicationServices.GetRequiredService<LocalApiEndpoints>();
        return app.Use(async (context, next) =>
        {
            var path = context.Request.Path;
            if (path.Equals(metricsPath, StringComparison.OrdinalIgnoreCase))
            {
                if (!await api.AuthorizeMetricsAsync(context).ConfigureAwait(false))
                {
                    return;
                }
            }
            else if (path.Equals(healthPath, StringComparison.OrdinalIgnoreCase))
            {
                if (!await api.AuthorizeHealthAsync(context).ConfigureAwait(false))
                {
                    return;
                }
            }

            await next(context).ConfigureAwait(false);
        });
    }

    private sealed class LocalApiOptionsValidator(string path) : IValidateOptions<LocalApiOptions>
    {
        public ValidateOptionsResult Validate(string? name, LocalApiOptions options)
        {
            var errors = options.Validate(path).ToList();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
