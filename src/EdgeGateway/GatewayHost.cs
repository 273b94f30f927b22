using System.Net.Sockets;
using EdgeGateway.Bridges;
using EdgeGateway.Buffer;
using EdgeGateway.CommandLine;
using EdgeGateway.Drones;
using EdgeGateway.Hosting;
using EdgeGateway.Hosting.Systemd;
using EdgeGateway.LocalApi;
using EdgeGateway.LocalApi.FieldConsole;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Api;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Simulation;
using EdgeGateway.Time;
using EdgeGateway.Upstream;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway;

/// <summary>
/// The composition root: the only place that knows every capability. Parses the command line,
/// assembles and validates configuration, starts the simulator when asked, wires the capabilities
/// and runs until SIGTERM.
/// </summary>
public static partial class GatewayHost
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        if (!GatewayCommandLine.TryParse(args, out var commandLine, out var usageError))
        {
            await Console.Error.WriteLineAsync($"edge-gateway: {usageError}\n\n{GatewayCommandLine.Usage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        if (commandLine.Help)
        {
            await Console.Out.WriteAsync(GatewayCommandLine.Usage).ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        if (commandLine.Version)
        {
            await Console.Out.WriteLineAsync($"edge-gateway {typeof(GatewayHost).Assembly.GetName().Version}").ConfigureAwait(false);
            return ExitCodes.Ok;
        }

        WebApplicationBuilder builder;
        try
        {
            builder = WebApplication.CreateBuilder(new WebApplicationOptions
            {
                Args = [.. commandLine.Rest],
                ContentRootPath = AppContext.BaseDirectory,
            });
        }
        catch (InvalidDataException ex)
        {
            // appsettings.json or appsettings.{Environment}.json beside the binary is not valid JSON.
            await Console.Error.WriteLineAsync(
                "edge-gateway: invalid configuration:\n  " + GatewayConfiguration.DescribeLoadFailure(ex)).ConfigureAwait(false);
            return ExitCodes.Config;
        }

        var sourceProblems = GatewayConfiguration.AddSources(builder.Configuration, commandLine);
        if (sourceProblems.Configuration.Count > 0)
        {
            await Console.Error.WriteLineAsync(
                "edge-gateway: invalid configuration:\n  " + string.Join("\n  ", sourceProblems.Configuration)).ConfigureAwait(false);
            return ExitCodes.Config;
        }

        if (sourceProblems.Usage.Count > 0)
        {
            await Console.Error.WriteLineAsync($"edge-gateway: {string.Join("\nedge-gateway: ", sourceProblems.Usage)}\n\n{GatewayCommandLine.Usage}").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        var problems = GatewayConfiguration.Validate(builder.Configuration);
        if (problems.Count > 0)
        {
            await Console.Error.WriteLineAsync(
                "edge-gateway: invalid configuration:\n  " + string.Join("\n  ", problems)).ConfigureAwait(false);
            return ExitCodes.Config;
        }

        // The simulator binds its own sockets before the gateway is built, so simulate mode can point the
        // drone link (and the serial sensors) at it through ordinary configuration.
        await using var simulation = commandLine.Simulate
            ? await SimulationEnvironment.TryStartAsync(builder.Configuration, cancellationToken).ConfigureAwait(false)
            : null;
        if (commandLine.Simulate && simulation is null)
        {
            // Its configuration was validated above with the rest (78); what is left is a taken address.
            return ExitCodes.Unavailable;
        }

        simulation?.ApplyTo(builder.Configuration);
        simulation?.ApplyTo(builder.Services);

        Configure(builder);
        await using var app = builder.Build();
        MapEndpoints(app);

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeGateway");
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (StartupFailure.Describe(ex) is { } failure)
        {
            Log.StartFailed(logger, failure.Message);
            await Console.Error.WriteLineAsync($"edge-gateway: {failure.Message}").ConfigureAwait(false);
            return failure.ExitCode;
        }

        Log.Started(logger, string.Join(", ", app.Urls), commandLine.Simulate);
        foreach (var where in SecretSources.OnCommandLine(commandLine))
        {
            Log.SecretOnCommandLine(logger, where);
        }
        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>Registers every capability. Order matters only where a later one uses an earlier one.</summary>
    private static void Configure(WebApplicationBuilder builder)
    {
        var config = builder.Configuration;
        builder.Logging.ConfigureGatewayLogging();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
        builder.WebHost.ConfigureKestrel(k => k.AddServerHeader = false);

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<SystemWallClock>(sp => new SystemWallClock(
            sp.GetRequiredService<TimeProvider>(), KernelClock.IsSynchronised() ? TimeSource.Ntp : TimeSource.Unsynced));
        builder.Services.AddSingleton<IWallClock>(sp => sp.GetRequiredService<SystemWallClock>());

        builder.Services.AddGatewayHosting(config.GetSection("Hosting"));
        builder.Services.AddRecordBuffer(config.GetSection("Buffer"));
        // Upstream sinks; the buffer runs one forwarder per sink, each with its own cursor.
        builder.Services.AddUpstream(config.GetSection("Upstream"));
        // Every producer writes into the buffer's bounded intake; nothing waits on the disk.
        builder.Services.AddSingleton<IRecordWriter>(sp => sp.GetRequiredService<IRecordBuffer>());
        builder.Services.AddDrones(config.GetSection(DroneOptions.SectionName));
        builder.Services.AddSensors(config.GetSection(SensorsOptions.SectionName));
        builder.Services.AddLocalApi(config.GetSection("LocalApi"));
        builder.Services.AddHostedService<SensorHubBridge>();
        builder.Services.AddHostedService<ReadinessOnStart>();
    }

    private static void MapEndpoints(WebApplication app)
    {
        // Every /api call obeys the local API's roles, including the read-only ones other capabilities map.
        app.UseLocalApiReadAccess("/api/sensors", "/api/buffer", "/api/telemetry", "/api/upstream");
        // /metrics needs a role; /healthz shows its per-component detail only to clients with one.
        app.UseLocalApiHealthAccess();
        app.MapGatewayHostingEndpoints();
        app.MapBufferEndpoints();
        app.MapUpstreamEndpoints();
        app.MapSensorEndpoints();
        app.MapLocalApi();
        app.MapFieldConsole();
    }

    /// <summary>Opens the readiness gate (READY=1) once every hosted service and Kestrel have started.</summary>
    private sealed class ReadinessOnStart(IHostApplicationLifetime lifetime, ReadinessGate gate) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() => gate.Open("local API listening, drone link bound"));
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private static partial class Log
    {
        [LoggerMessage(100, LogLevel.Information, "EdgeGateway started: local API on {Urls}; simulate={Simulate}")]
        public static partial void Started(ILogger logger, string urls, bool simulate);

        [LoggerMessage(101, LogLevel.Critical, "EdgeGateway could not start: {Reason}")]
        public static partial void StartFailed(ILogger logger, string reason);

        // Names where, never the value.
        [LoggerMessage(102, LogLevel.Warning, "A secret was given on the command line ({Where}); every local user can read it in /proc/<pid>/cmdline and ps. "
            + "Use a file instead: Upstream:Mqtt:PasswordFile, Upstream:Relay:TokenFile, systemd credentials in $CREDENTIALS_DIRECTORY "
            + "(upstream-password, upstream-token, local-api-tokens), or EDGEGW_UPSTREAM_* environment variables")]
        public static partial void SecretOnCommandLine(ILogger logger, string where);
    }
}

/// <summary>Turns the failures a user can fix (a taken port, a missing device) into a message and exit code.</summary>
internal static class StartupFailure
{
    public static (string Message, int ExitCode)? Describe(Exception ex)
    {
        switch (ex)
        {
            case AggregateException agg when agg.InnerExceptions.Count > 0:
                return Describe(agg.InnerExceptions[0]);
            case DronePortInUseException:
                return (ex.Message, ExitCodes.Unavailable);
            case IOException { InnerException: SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } } io:
                return ($"{io.Message} Another process (often a second edge-gateway) holds the local API port; "
                        + "stop it or choose another with --urls http://0.0.0.0:PORT.", ExitCodes.Unavailable);
            case IOException io when io.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase):
                return ($"{io.Message} Stop the other process or choose another port with --urls.", ExitCodes.Unavailable);
            case OptionsValidationFailedException invalid:
                return ("invalid configuration:\n  " + string.Join("\n  ", invalid.Problems), ExitCodes.Config);
            case Microsoft.Extensions.Options.OptionsValidationException invalid:
                return ("invalid configuration:\n  " + string.Join("\n  ", invalid.Failures), ExitCodes.Config);
            default:
                return null;
        }
    }
}
