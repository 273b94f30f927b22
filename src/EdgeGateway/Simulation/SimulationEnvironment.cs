using System.Globalization;
using System.Net;
using System.Net.Sockets;
using EdgeGateway.Options;
using EdgeGateway.Simulator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulation;

/// <summary>Simulate-mode settings (configuration section <c>Simulator</c>).</summary>
public sealed class SimulatorSettings : IValidatedOptions
{
    public const string SectionName = "Simulator";

    /// <summary>Number of simulated Tellos, on 127.0.0.2, 127.0.0.3, …</summary>
    public int Drones { get; set; } = 1;

    /// <summary>Address of the first simulated drone; the others count up from it.</summary>
    public string FirstAddress { get; set; } = "127.0.0.2";

    /// <summary>State format: 1.3, 2.0 or 3.0.</summary>
    public string Format { get; set; } = "2.0";

    /// <summary>1 = real time; 10 = ten times faster (latencies, auto-land, battery).</summary>
    public double TimeScale { get; set; } = 1.0;

    public TelloFaultOptions Faults { get; set; } = new();

    public IEnumerable<string> Validate(string section)
    {
        if (Drones is < 1 or > 50)
        {
            yield return $"{section}:Drones: must be 1..50 (got {Drones})";
        }

        if (!IPAddress.TryParse(FirstAddress, out var first) || first.AddressFamily != AddressFamily.InterNetwork
            || first.GetAddressBytes()[0] != 127)
        {
            yield return $"{section}:FirstAddress: must be an IPv4 loopback address such as 127.0.0.2 (got \"{FirstAddress}\")";
        }

        if (ParseFormat(Format) is null)
        {
            yield return $"{section}:Format: must be 1.3, 2.0 or 3.0 (got \"{Format}\")";
        }

        if (!(TimeScale is > 0 and <= 1000))
        {
            yield return $"{section}:TimeScale: must be > 0 and <= 1000 (got {TimeScale.ToString(CultureInfo.InvariantCulture)})";
        }
    }

    internal static TelloSdkFormat? ParseFormat(string text) => text switch
    {
        "1.3" or "13" => TelloSdkFormat.Sdk13,
        "2.0" or "20" => TelloSdkFormat.Sdk20,
        "3.0" or "30" => TelloSdkFormat.Sdk30,
        _ => null,
    };
}

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
        var settings = new SimulatorSettings();
        configuration.GetSection(SimulatorSettings.SectionName).Bind(settings);
        var problems = settings.Validate(SimulatorSettings.SectionName).ToList();
        if (problems.Count > 0)
        {
            await Console.Error.WriteLineAsync("edge-gateway: invalid configuration:\n  " + string.Join("\n  ", problems)).ConfigureAwait(false);
            return null;
        }

        var statePort = configuration.GetValue("Drones:StatePort", 8890);
        var template = new TelloSimulatorOptions
        {
            Address = IPAddress.Parse(settings.FirstAddress),
            CommandPort = 8889,
            StatePort = statePort,
            Format = SimulatorSettings.ParseFormat(settings.Format)!.Value,
            TimeScale = settings.TimeScale,
            Faults = settings.Faults,
        };
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
                $"edge-gateway: the simulator cannot bind {settings.FirstAddress}:8889: address already in use. " +
                "Is another gateway or simulator running? Stop it, or set Simulator:FirstAddress to a free loopback address.").ConfigureAwait(false);
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
