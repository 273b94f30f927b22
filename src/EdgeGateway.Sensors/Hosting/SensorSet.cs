using System.Device.I2c;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.I2c;
using EdgeGateway.Sensors.Lines;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Time;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Hosting;

/// <summary>The configured sensors: one source per enabled item, each with its registry entry and recorder.</summary>
internal sealed class SensorSet
{
    public SensorSet(SensorsOptions options, SensorRegistry registry, IRecordWriter writer, IWallClock clock, TimeProvider time,
        SensorMetrics metrics, IGpsTimeListener? gpsTime, ILoggerFactory loggers, LoopHeartbeatRegistry? heartbeats,
        I2cDeviceOpener i2c)
    {
        var logger = loggers.CreateLogger("EdgeGateway.Sensors");
        foreach (var o in options.Items.Where(i => i.Enabled))
        {
            var entry = registry.Add(o.Id, o.Type, o.Endpoint);
            var recorder = new SensorRecorder(entry, o.MaxRecordRateHz, writer, clock, time, metrics, gpsTime, logger);
            ISensorSource source = o.Type switch
            {
                "gpsd" => new GpsdSensorSource(o.Id, o.Host, o.Port, entry, recorder, options.ReopenMinDelay, options.ReopenMaxDelay, time,
                    heartbeats, logger, metrics),
                "i2c" => new I2cSensorSource(o.Id, o.ToI2cModel()!.Value, new I2cConnectionSettings(o.Bus, o.ToI2cAddress()!.Value),
                    new I2cChipOptions(o.ShuntOhms, o.MaxCurrentA), TimeSpan.FromSeconds(1 / o.I2cRateHz), i2c, entry, recorder,
                    options.ReopenMinDelay, options.ReopenMaxDelay, time, heartbeats, logger, metrics),
                _ => new SerialSensorSource(o.Id, o.Device!, o.ToSerialSettings(), DriverFactory(o), entry, recorder,
                    options.ReopenMinDelay, options.ReopenMaxDelay, time, heartbeats, logger, metrics),
            };
            Sources.Add(source);
        }
    }

    public List<ISensorSource> Sources { get; } = [];

    internal static Func<ISensorDriver> DriverFactory(SensorOptions o) => o.Type switch
    {
        "nmea" => () => new NmeaGpsDriver(),
        "tfmini" => () => new TfminiDriver(o.ToTfminiModel()),
        _ => () => new LineSensorDriver(
            new LineSensorParser(o.ToLineFormat(), [.. o.Fields.Select(f => new LineField(f.Name, f.Unit, f.Text))], o.Separator[0]),
            o.MaxLineLength),
    };
}

/// <summary>Runs every source for the lifetime of the host. A source never ends on its own; one that throws is logged.</summary>
internal sealed class SensorsHostedService(SensorSet set, ILogger<SensorsHostedService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        SensorsLog.Starting(logger, set.Sources.Count);
        await Task.WhenAll(set.Sources.Select(s => Task.Run(() => s.RunAsync(stoppingToken), CancellationToken.None))).ConfigureAwait(false);
    }
}

/// <summary>One <c>/healthz</c> entry per sensor, component <c>sensor/{id}</c>.</summary>
internal sealed class SensorsHealthReporter(ISensorRegistry registry) : IHealthReporter
{
    public IEnumerable<ComponentHealth> Report()
    {
        foreach (var s in registry.Snapshot())
        {
            yield return new ComponentHealth("sensor/" + s.Id, s.State, s.Summary, new Dictionary<string, object?>
            {
                ["type"] = s.Type,
                ["endpoint"] = s.Endpoint,
                ["link"] = s.Link.ToString().ToLowerInvariant(),
                ["last_reading_at"] = s.LastReadingAt,
                ["readings"] = s.Readings,
                ["rejected"] = s.Rejected,
                ["reconnects"] = s.Reconnects,
            });
        }
    }
}
