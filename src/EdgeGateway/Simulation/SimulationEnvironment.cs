using System.Globalization;
using System.Net.Sockets;
using EdgeGateway.Simulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulation;

/// <summary>
/// The built-in simulator for <c>--simulate</c>: Tellos on loopback addresses speaking real UDP. Started
/// before the gateway is built; <see cref="ApplyTo"/> points the drone link at it through configuration,
/// so the gateway runs exactly the code it runs against real hardware.
/// </summary>
public sealed class SimulationEnvironment : IAsyncDisposable
{
    private readonly TelloFleetSimulator _fleet;
    private readonly ILoggerFactory _loggers;

    private SimulationEnvironment(TelloFleetSimulator fleet, ILoggerFactory loggers)
    {
        _fleet = fleet;
        _loggers = loggers;
    }

    public IReadOnlyList<TelloSimulator> Drones => _fleet.Drones;

    /// <summary>Starts the simulator; on a taken address prints why and returns null.</summary>
    public static async Task<SimulationEnvironment?> TryStartAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        var settings = new SimulatorOptions();
        var section = configuration.GetSection(SimulatorOptions.SectionName);
        section.Bind(settings);
        // The simulated drones send state to the port the drone link listens on, unless told otherwise.
        if (section["StatePort"] is null)
        {
            settings.StatePort = configuration.GetValue("Drones:StatePort", settings.StatePort);
        }

        var problems = settings.Validate(SimulatorOptions.SectionName).ToList();
        if (problems.Count > 0)
        {
            await Console.Error.WriteLineAsync("edge-gateway: invalid configuration:\n  " + string.Join("\n  ", problems)).ConfigureAwait(false);
            return null;
        }

        var template = settings.ToTelloOptions();
        var loggers = LoggerFactory.Create(b => b.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        }).SetMinimumLevel(LogLevel.Warning));
        var fleet = new TelloFleetSimulator(template, settings.Drones, TimeProvider.System, loggers);
        try
        {
            await fleet.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            await Console.Error.WriteLineAsync(
                $"edge-gateway: the simulator cannot bind {settings.Address}:{settings.CommandPort}: address already in use. " +
                "Is another gateway or simulator running? Stop it, or set Simulator:Address to a free loopback address.").ConfigureAwait(false);
            await fleet.DisposeAsync().ConfigureAwait(false);
            loggers.Dispose();
            return null;
        }

        return new SimulationEnvironment(fleet, loggers);
    }

    /// <summary>Points the drone link at the simulated drones (loopback, one entry per drone).</summary>
    public void ApplyTo(IConfigurationBuilder configuration)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            // The simulator holds 127.0.0.x:8889; binding the gateway to 0.0.0.0:8889 would clash with it.
            ["Drones:LocalAddress"] = "127.0.0.1",
        };
        for (var i = 0; i < _fleet.Drones.Count; i++)
        {
            var index = i.ToString(CultureInfo.InvariantCulture);
            keys[$"Drones:Items:{index}:Id"] = $"tello-{(i + 1).ToString(CultureInfo.InvariantCulture)}";
            keys[$"Drones:Items:{index}:Address"] = _fleet.Drones[i].CommandEndPoint.ToString();
        }

        configuration.AddInMemoryCollection(keys);
    }

    public async ValueTask DisposeAsync()
    {
        await _fleet.DisposeAsync().ConfigureAwait(false);
        _loggers.Dispose();
    }
}
