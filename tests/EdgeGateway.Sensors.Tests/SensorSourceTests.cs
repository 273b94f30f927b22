using System.Net.Http.Json;
using System.Text.Json;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Api;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Simulator.Serial;
using EdgeGateway.Time;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

public sealed class SensorSourceTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new("edge-sensors-");

    public void Dispose() => _dir.Dispose();

    private static Dictionary<string, string?> Config(params (string Key, string Value)[] items)
    {
        var d = new Dictionary<string, string?>
        {
            ["Sensors:ReopenMinDelay"] = "00:00:00.100",
            ["Sensors:ReopenMaxDelay"] = "00:00:00.400",
            ["Sensors:StaleAfter"] = "00:00:05",
        };
        foreach (var (k, v) in items)
        {
            d["Sensors:" + k] = v;
        }

        return d;
    }

    /// <summary>Writes one NMEA epoch every 100 ms to whichever pty is current, like a receiver that keeps talking.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private PseudoTerminal? _pty;

        public Receiver(IPositionSource position)
        {
            var gps = new SimulatedGps(position);
            _loop = Task.Run(async () =>
            {
                var t = DateTimeOffset.UtcNow;
                while (!_stop.IsCancellationRequested)
                {
                    t = t.AddSeconds(1);
                    var pty = Volatile.Read(ref _pty);
                    if (pty is not null)
                    {
                        try
                        {
                            foreach (var s in gps.Epoch(t))
                            {
                                pty.Write(s);
                            }
                        }
                        catch (ObjectDisposedException)
                        {
                        }
                    }

                    await Task.Delay(100).ConfigureAwait(false);
                }
            });
        }

        public PseudoTerminal? Pty
        {
            set => Volatile.Write(ref _pty, value);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop.WithTimeout();
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Unplug_and_replug_through_a_re_pointed_symlink_reconnects_by_itself()
    {
        var link = Path.Combine(_dir.Path, "serial", "by-id", "usb-u-blox_GNSS_receiver-if00");
        var receiver = new Receiver(new DelegatePositionSource(() => (100, 200, 300)));
        await using var _ = receiver;
        var first = PseudoTerminal.Open(link);
        receiver.Pty = first;
        await using var host = await SensorHost.StartAsync(output, Config(("Items:0:Id", "gps0"), ("Items:0:Type", "nmea"), ("Items:0:Device", link)));

        await TaskTimeouts.Eventually(() => host.Sensor("gps0").Readings >= 3, "readings before the unplug");
        Assert.Equal(HealthState.Healthy, host.Sensor("gps0").State);
        var firstSlave = first.SlavePath;

        first.Dispose(); // unplug: the pty goes away and udev would remove the link
        await TaskTimeouts.Eventually(() => host.Sensor("gps0").Link is SensorLinkState.Disconnected, "the source notices the unplug");
        var gone = host.Sensor("gps0");
        Assert.Equal(HealthState.Unhealthy, gone.State);
        output.WriteLine("while unplugged: " + gone.Summary);
        var readingsWhileGone = gone.Readings;
        await TaskTimeouts.Eventually(() => host.Sensor("gps0").Summary.Contains("not found", StringComparison.Ordinal),
            "reopen attempts report the missing device");

        // Replug: a new pty (the kernel may hand out the same number again, as ttyUSB0 comes back as ttyUSB0),
        // reached through the same stable name, re-pointed by rename as udev does.
        using var second = PseudoTerminal.Open(link);
        Assert.Equal(second.SlavePath, new FileInfo(link).LinkTarget);
        output.WriteLine($"first {firstSlave}, replugged {second.SlavePath}");
        receiver.Pty = second;
        await TaskTimeouts.Eventually(() => host.Sensor("gps0") is { Link: SensorLinkState.Open, Reconnects: 1 } s && s.Readings > readingsWhileGone + 2,
            "readings resume after the replug");
        Assert.Equal(HealthState.Healthy, host.Sensor("gps0").State);
        host.Logs.AssertNoUnexpectedErrors();
        Assert.Contains(host.Logs.Entries, e => e.Id.Id == 7001); // "is back"
    }

    [Fact]
    public async Task Readings_become_records_with_snake_case_json_and_named_units()
    {
        var options = new SerialSensorSimulatorOptions { LinkDirectory = _dir.Path, TfminiInterval = TimeSpan.FromMilliseconds(20) };
        await using var sim = new SerialSensorSimulator(new DelegatePositionSource(() => (1000, -500, 250)), options);
        sim.Start();
        await using var host = await SensorHost.StartAsync(output, Config(
            ("Items:0:Id", "gps0"), ("Items:0:Type", "nmea"), ("Items:0:Device", sim.GpsDevicePath),
            ("Items:1:Id", "air0"), ("Items:1:Type", "lines"), ("Items:1:Device", sim.LineSensorDevicePath), ("Items:1:Format", "keyvalue"),
            ("Items:1:Fields:0:Name", "temperature"), ("Items:1:Fields:0:Unit", "C"),
            ("Items:1:Fields:1:Name", "humidity"), ("Items:1:Fields:1:Unit", "%"),
            ("Items:1:Fields:2:Name", "pressure"), ("Items:1:Fields:2:Unit", "hPa"),
            ("Items:2:Id", "alt0"), ("Items:2:Type", "tfmini"), ("Items:2:Device", sim.TfminiDevicePath), ("Items:2:MaxRecordRateHz", "5")));

        await TaskTimeouts.Eventually(() => host.Registry.Snapshot().All(s => s.Readings >= 2), "every simulated sensor read through the serial layer");
        var gps = host.Payloads("sensor/gps0")[^1];
        Assert.Equal("gps", gps.GetProperty("type").GetString());
        Assert.Equal("nmea", gps.GetProperty("origin").GetString());
        Assert.Equal(options.OriginLatDeg + (10.0 / 6378137 * 180 / Math.PI), gps.GetProperty("lat_deg").GetDouble(), 6);
        Assert.True(gps.GetProperty("lon_deg").GetDouble() < options.OriginLonDeg);
        Assert.Equal(options.OriginAltM + 2.5, gps.GetProperty("alt_msl_m").GetDouble(), 1);
        Assert.Equal("3d", gps.GetProperty("fix_mode").GetString());
        Assert.True(gps.GetProperty("gps_time_valid").GetBoolean());

        var air = host.Payloads("sensor/air0")[^1].GetProperty("values");
        Assert.InRange(air.GetProperty("temperature_c").GetDouble(), 19, 23);
        Assert.InRange(air.GetProperty("humidity_pct").GetDouble(), 30, 50);
        Assert.Equal(1013.2, air.GetProperty("pressure_hpa").GetDouble());

        var range = host.Payloads("sensor/alt0")[^1];
        Assert.Equal(2.5, range.GetProperty("distance_m").GetDouble());
        Assert.Equal(38.0, range.GetProperty("temperature_c").GetDouble());

        var records = host.Records();
        Assert.All(records, r => Assert.Equal(RecordKind.SensorReading, r.Kind));
        // TFmini: 50 frames a second, at most 5 records a second (plus one at the edge of each window).
        var alt = host.Sensor("alt0");
        Assert.True(records.Count(r => r.Stream == "sensor/alt0") < alt.Readings, "the record rate limit applies");

        // The simulator's GPS time is the system's time, so the wall clock is now GPS-backed.
        var clock = (SystemWallClock)host.Services.GetService(typeof(IWallClock))!;
        Assert.Equal(TimeSource.Gps, clock.Source);
        Assert.Contains(records.Where(r => r.Stream == "sensor/air0"), r => r.TimeSource == TimeSource.Gps);
        host.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Get_api_sensors_shows_latest_reading_and_health_per_sensor()
    {
        await using var sim = new SerialSensorSimulator(new DelegatePositionSource(() => (0, 0, 120)),
            new SerialSensorSimulatorOptions { TfminiInterval = TimeSpan.FromMilliseconds(50) });
        sim.Start();
        var settings = Config(("Items:0:Id", "alt0"), ("Items:0:Type", "tfmini"), ("Items:0:Device", sim.TfminiDevicePath),
            ("Items:1:Id", "missing0"), ("Items:1:Type", "nmea"), ("Items:1:Device", "/dev/ttyUSB-edge-test-absent"));
        var logs = new TestLoggerProvider(output);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddSingleton<IRecordWriter>(new RecordIntake(10_000));
        builder.Services.AddSensors(builder.Configuration.GetSection("Sensors"));
        await using var app = builder.Build();
        app.MapSensorEndpoints();
        await app.StartAsync().WithTimeout();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        var registry = (ISensorRegistry)app.Services.GetService(typeof(ISensorRegistry))!;
        await TaskTimeouts.Eventually(() => registry.Find("alt0")!.Readings > 0 && registry.Find("missing0")!.Link == SensorLinkState.Failed, "sensor states settle");

        using var doc = JsonDocument.Parse(await http.GetStringAsync("/api/sensors").WithTimeout());
        var sensors = doc.RootElement.GetProperty("sensors").EnumerateArray().ToDictionary(s => s.GetProperty("id").GetString()!);
        var alt = sensors["alt0"];
        Assert.Equal("healthy", alt.GetProperty("health").GetString());
        Assert.Equal("open", alt.GetProperty("link").GetString());
        Assert.Equal(1.2, alt.GetProperty("last_reading").GetProperty("distance_m").GetDouble());
        Assert.True(alt.GetProperty("counters").GetProperty("readings").GetInt64() > 0);
        var missing = sensors["missing0"];
        Assert.Equal("unhealthy", missing.GetProperty("health").GetString());
        Assert.Contains("not found", missing.GetProperty("summary").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, missing.GetProperty("last_reading").ValueKind);

        using var one = await http.GetAsync("/api/sensors/nope").WithTimeout();
        Assert.Equal(System.Net.HttpStatusCode.NotFound, one.StatusCode);
        Assert.False((await one.Content.ReadFromJsonAsync<JsonElement>().WithTimeout()).GetProperty("success").GetBoolean());

        var health = ((IEnumerable<IHealthReporter>)app.Services.GetService(typeof(IEnumerable<IHealthReporter>))!).SelectMany(h => h.Report()).ToList();
        Assert.Contains(health, h => h.Component == "sensor/alt0" && h.State == HealthState.Healthy);
        Assert.Contains(health, h => h.Component == "sensor/missing0" && h.State == HealthState.Unhealthy);
        await app.StopAsync().WithTimeout();
        logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task State_changed_event_fires_for_readings_and_link_changes()
    {
        using var pty = PseudoTerminal.Open();
        await using var host = await SensorHost.StartAsync(output, Config(("Items:0:Id", "alt0"), ("Items:0:Type", "tfmini"), ("Items:0:Device", pty.SlavePath)));
        var seen = new System.Collections.Concurrent.ConcurrentQueue<SensorSnapshot>();
        host.Registry.StateChanged += (_, s) => seen.Enqueue(s);
        await TaskTimeouts.Eventually(() => host.Sensor("alt0").Link == SensorLinkState.Open, "port open");
        pty.Write(SimulatedTfmini.Encode(321, 1000, 30));
        await TaskTimeouts.Eventually(() => seen.Any(s => s.Readings > 0), "an event for the reading");
        Assert.Contains("\"distance_m\":3.21", System.Text.Encoding.UTF8.GetString(seen.Last(s => s.Readings > 0).LastReadingJson.Span), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_baud_rate_garbage_makes_the_sensor_degraded_with_a_hint()
    {
        using var pty = PseudoTerminal.Open();
        var settings = Config(("Items:0:Id", "gps0"), ("Items:0:Type", "nmea"), ("Items:0:Device", pty.SlavePath));
        settings["Sensors:StaleAfter"] = "00:00:01";
        // The health windows (no valid reading for StaleAfter, a rejection within the last StaleAfter) run on a
        // manual clock: a loaded machine cannot stretch them, only the test moves time.
        var time = new ManualTimeProvider();
        await using var host = await SensorHost.StartAsync(output, settings, time);
        await TaskTimeouts.Eventually(() => host.Sensor("gps0").Link == SensorLinkState.Open, "port open");
        time.Advance(TimeSpan.FromSeconds(2)); // open for longer than StaleAfter, without a valid reading
        var log = File.ReadAllBytes(SerialPortTests.LogPath);
        using var stop = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                pty.Write(SerialPortTests.AtWrongBaudRate(log.AsSpan(0, 600).ToArray(), 4800, 9600));
                await Task.Delay(100).ConfigureAwait(false);
            }
        });
        await TaskTimeouts.Eventually(() => host.Sensor("gps0").Rejected > 0, "the garbage is rejected");
        await stop.CancelAsync();
        await writer.WithTimeout();

        // Time stands still: the rejections are "within the last second", the port has been open for 2 s.
        var sensor = host.Sensor("gps0");
        Assert.Equal(HealthState.Degraded, sensor.State);
        Assert.Contains("wrong baud rate", sensor.Summary, StringComparison.Ordinal); // garbage only: a hint at the baud rate
        Assert.Equal(0, sensor.Readings);
        // A rejection reaches the registry after its log line, so the first one's warning is already there.
        Assert.Contains(host.Logs.Entries, e => e.Id.Id == 7005); // the rate-limited "rejected N inputs" warning
    }
}
