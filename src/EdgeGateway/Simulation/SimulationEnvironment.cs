using System.Globalization;
using System.Net.Sockets;
using EdgeGateway.Simulator;
using EdgeGateway.Sensors.I2c;
using EdgeGateway.Simulator.I2c;
using EdgeGateway.Simulator.Serial;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulation;

/// <summary>
/// The built-in simulator for <c>--simulate</c>: Tellos on loopback addresses speaking real UDP. Started
/// before the gateway is built; <see cref="ApplyTo"/> points the drone link at it through configuration,
/// so the gateway runs exactly the code it runs against real hardware.
/// </summary>
public sealed class SimulationEnvironment : IAsyncDisposable
{
    private const string SensorItems = "Sensors:Items";
    private const string DroneItems = "Drones:Items";

    private readonly TelloFleetSimulator _fleet;
    private readonly SerialSensorSimulator? _serial;
    private readonly I2cSensorSimulator? _i2c;
    private readonly ILoggerFactory _loggers;
    private SimulatorControl? _control;

    private SimulationEnvironment(TelloFleetSimulator fleet, SerialSensorSimulator? serial, I2cSensorSimulator? i2c, ILoggerFactory loggers)
    {
        _fleet = fleet;
        _serial = serial;
        _i2c = i2c;
        _loggers = loggers;
    }

    public IReadOnlyList<TelloSimulator> Drones => _fleet.Drones;

    /// <summary>Starts the simulator; on a taken address prints why and returns null.</summary>
    public static async Task<SimulationEnvironment?> TryStartAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        var settings = new SimulatorOptions();
        var section = configuration.GetSection(SimulatorOptions.SectionName);
        try
        {
            section.Bind(settings);
        }
        catch (InvalidOperationException ex)
        {
            // GatewayConfiguration.Validate reports this first (exit 78); kept so a direct caller gets a message, not a crash.
            await Console.Error.WriteLineAsync($"edge-gateway: invalid configuration:\n  {ex.Message}").ConfigureAwait(false);
            return null;
        }

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

        // Serial sensors on pseudo-terminals: a GPS that follows the first drone, an air-quality line
        // sensor and a TFmini range finder. The gateway reads them through its real serial code.
        // With them, the companion computer's I2C chips (barometer, power monitor, IMU) emulated at the I2cDevice
        // seam and read through the real bindings.
        // With a control socket the sensors sit behind stable symlinks (<socket>.tty/gps0 …), as udev's by-id links do,
        // so that an unplugged and replugged adapter (a new /dev/pts/N) is found again at the same path.
        var controlSocket = configuration["Simulator:ControlSocket"];
        SerialSensorSimulator? serial = null;
        I2cSensorSimulator? i2c = null;
        if (configuration.GetValue("Simulator:SerialSensors", true))
        {
            var drone = fleet.Drones[0];
            var position = new DelegatePositionSource(() =>
            {
                var s = drone.Snapshot;
                return (s.XCm, s.YCm, s.HeightCm);
            });
            serial = new SerialSensorSimulator(position,
                new SerialSensorSimulatorOptions { LinkDirectory = string.IsNullOrEmpty(controlSocket) ? null : controlSocket + ".tty" });
            serial.Start();
            i2c = new I2cSensorSimulator(position);
            i2c.Start();
        }

        var environment = new SimulationEnvironment(fleet, serial, i2c, loggers);
        if (!string.IsNullOrEmpty(controlSocket))
        {
            try
            {
                environment._control = SimulatorControl.Start(controlSocket, fleet.Drones, serial);
            }
            catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException)
            {
                await Console.Error.WriteLineAsync($"edge-gateway: Simulator:ControlSocket: cannot listen on {controlSocket}: {ex.Message}").ConfigureAwait(false);
                await environment.DisposeAsync().ConfigureAwait(false);
                return null;
            }
        }

        return environment;
    }

    /// <summary>
    /// Points the drone link at the simulated drones (loopback, one entry per drone; configured <c>Drones:Items</c> are
    /// hidden, not merged) and, with
    /// <c>Simulator:SerialSensors</c> on, replaces <c>Sensors:Items</c> with the simulated sensors (serial and I2C): the configured
    /// items (serial and gpsd alike) are hidden rather than merged key by key into the simulated ones. The other
    /// <c>Sensors</c> settings (<c>StaleAfter</c>, <c>ReopenMinDelay</c> …) still apply.
    /// </summary>
    public void ApplyTo(IConfigurationBuilder configuration)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            // The simulator holds 127.0.0.x:8889; binding the gateway to 0.0.0.0:8889 would clash with it.
            ["Drones:LocalAddress"] = "127.0.0.1",
        };
        // The simulated drones replace Drones:Items (from every source, --drone included) rather than merging into
        // them by index: a configured second drone must not sit next to the simulated one and be flown for real.
        HideSubtree(configuration, DroneItems);
        for (var i = 0; i < _fleet.Drones.Count; i++)
        {
            var index = i.ToString(CultureInfo.InvariantCulture);
            keys[$"Drones:Items:{index}:Id"] = $"tello-{(i + 1).ToString(CultureInfo.InvariantCulture)}";
            keys[$"Drones:Items:{index}:Address"] = _fleet.Drones[i].CommandEndPoint.ToString();
        }

        if (_serial is { } serial)
        {
            HideSubtree(configuration, SensorItems);
            SimulatedSensors(serial, keys);
            SimulatedI2cSensors(keys);
        }

        configuration.AddInMemoryCollection(keys);
    }

    /// <summary>Makes the sensors open the emulated I2C chips instead of <c>/dev/i2c-N</c>. Before <c>AddSensors</c>.</summary>
    public void ApplyTo(IServiceCollection services)
    {
        if (_i2c is { } i2c)
        {
            services.AddSingleton<I2cDeviceOpener>(i2c.Bus.Open);
        }
    }

    private static void SimulatedI2cSensors(Dictionary<string, string?> keys)
    {
        string[][] chips = [["baro0", "bme280", "0x76", "1"], ["power0", "ina219", "0x40", "2"], ["imu0", "mpu6050", "0x68", "10"]];
        for (var i = 0; i < chips.Length; i++)
        {
            var key = $"Sensors:Items:{(3 + i).ToString(CultureInfo.InvariantCulture)}";
            keys[$"{key}:Id"] = chips[i][0];
            keys[$"{key}:Type"] = "i2c";
            keys[$"{key}:Device"] = chips[i][1];
            keys[$"{key}:Bus"] = I2cSensorSimulator.BusNumber.ToString(CultureInfo.InvariantCulture);
            keys[$"{key}:Address"] = chips[i][2];
            keys[$"{key}:RateHz"] = chips[i][3];
        }
    }

    private static void SimulatedSensors(SerialSensorSimulator serial, Dictionary<string, string?> keys)
    {
        keys["Sensors:Items:0:Id"] = "gps0";
        keys["Sensors:Items:0:Type"] = "nmea";
        keys["Sensors:Items:0:Device"] = serial.GpsDevicePath;
        keys["Sensors:Items:0:Baud"] = "9600";
        keys["Sensors:Items:1:Id"] = "air0";
        keys["Sensors:Items:1:Type"] = "lines";
        keys["Sensors:Items:1:Device"] = serial.LineSensorDevicePath;
        keys["Sensors:Items:1:Baud"] = "115200";
        keys["Sensors:Items:1:Format"] = "keyvalue";
        string[][] fields = [["temperature", "C"], ["humidity", "%"], ["pressure", "hPa"], ["pm2_5", ""]];
        for (var f = 0; f < fields.Length; f++)
        {
            keys[$"Sensors:Items:1:Fields:{f}:Name"] = fields[f][0];
            if (fields[f][1].Length > 0)
            {
                keys[$"Sensors:Items:1:Fields:{f}:Unit"] = fields[f][1];
            }
        }

        keys["Sensors:Items:2:Id"] = "tfmini0";
        keys["Sensors:Items:2:Type"] = "tfmini";
        keys["Sensors:Items:2:Device"] = serial.TfminiDevicePath;
        keys["Sensors:Items:2:Baud"] = "115200";
    }

    /// <summary>
    /// Wraps every source added so far so that nothing under <paramref name="prefix"/> is visible from them:
    /// the simulated items added afterwards are then the whole subtree, not a key-by-key overlay on the configured
    /// ones (which would leave a configured <c>Sensors:Items:0:Separator</c> or <c>Items:5</c> in place). Hiding,
    /// not overriding with null: the binder treats an explicit null as a value and would reset defaults.
    /// </summary>
    private static void HideSubtree(IConfigurationBuilder configuration, string prefix)
    {
        var sources = configuration.Sources;
        for (var i = 0; i < sources.Count; i++)
        {
            sources[i] = new HidingSource(sources[i], prefix);
        }
    }

    private sealed class HidingSource(IConfigurationSource inner, string prefix) : IConfigurationSource
    {
        public IConfigurationProvider Build(IConfigurationBuilder builder) => new HidingProvider(inner.Build(builder), prefix);
    }

    private sealed class HidingProvider(IConfigurationProvider inner, string prefix) : IConfigurationProvider, IDisposable
    {
        public bool TryGet(string key, out string? value)
        {
            if (Within(key))
            {
                value = null;
                return false;
            }

            return inner.TryGet(key, out value);
        }

        public void Set(string key, string? value) => inner.Set(key, value);

        public Microsoft.Extensions.Primitives.IChangeToken GetReloadToken() => inner.GetReloadToken();

        public void Load() => inner.Load();

        public IEnumerable<string> GetChildKeys(IEnumerable<string> earlierKeys, string? parentPath)
            => parentPath is not null && Within(parentPath) ? earlierKeys : inner.GetChildKeys(earlierKeys, parentPath);

        public void Dispose() => (inner as IDisposable)?.Dispose();

        public override string ToString() => $"{inner} (without {prefix} under --simulate)";

        private bool Within(string key)
            => key.Equals(prefix, StringComparison.OrdinalIgnoreCase)
                || (key.Length > prefix.Length && key[prefix.Length] == ':' && key.StartsWith(prefix, StringComparison.OrdinalIgnoreCase));
    }

    public async ValueTask DisposeAsync()
    {
        if (_control is not null)
        {
            await _control.DisposeAsync().ConfigureAwait(false);
        }

        if (_serial is not null)
        {
            await _serial.DisposeAsync().ConfigureAwait(false);
        }

        if (_i2c is not null)
        {
            await _i2c.DisposeAsync().ConfigureAwait(false);
        }

        await _fleet.DisposeAsync().ConfigureAwait(false);
        _loggers.Dispose();
    }
}
