using EdgeGateway.Records;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Sensors.Tests;

public class OptionsTests
{
    private static List<string> Validate(params (string Key, string Value)[] items)
        => [.. SensorHost.Options(items.ToDictionary(i => "Sensors:" + i.Key, i => (string?)i.Value)).Validate("Sensors")];

    [Fact]
    public void A_good_configuration_has_no_errors()
    {
        Assert.Empty(Validate(("Items:0:Id", "gps0"), ("Items:0:Type", "nmea"), ("Items:0:Device", "/dev/ttyACM0"), ("Items:0:Baud", "38400"),
            ("Items:1:Id", "air0"), ("Items:1:Type", "lines"), ("Items:1:Device", "/dev/ttyUSB0"), ("Items:1:Format", "csv"), ("Items:1:Framing", "7E1"),
            ("Items:1:Fields:0:Name", "co2"), ("Items:1:Fields:0:Unit", "ppm"),
            ("Items:2:Id", "gpsd"), ("Items:2:Type", "gpsd")));
    }

    [Theory]
    [InlineData("Items:0:Type", "serial", "Sensors:Items:0:Type: must be one of nmea, lines, tfmini, gpsd, i2c (got \"serial\")")]
    [InlineData("Items:0:Baud", "12345", "Sensors:Items:0:Baud: must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600 (got 12345)")]
    [InlineData("Items:0:Framing", "8N3", "Sensors:Items:0:Framing: must be data bits 5-8, parity N/E/O, stop bits 1-2, e.g. 8N1 or 7E1 (got \"8N3\")")]
    [InlineData("Items:0:FlowControl", "dtr", "Sensors:Items:0:FlowControl: must be one of none, rtscts, xonxoff (got \"dtr\")")]
    [InlineData("Items:0:Id", "GPS 0", "Sensors:Items:0:Id: must be 1-32 characters of a-z, 0-9, '-' or '_', starting with a letter or digit (got \"GPS 0\")")]
    [InlineData("Items:0:Device", "", "Sensors:Items:0:Device: required for Type=nmea: a serial device path such as /dev/ttyUSB0 or /dev/serial/by-id/…")]
    [InlineData("ReopenMinDelay", "00:00:00", "Sensors:ReopenMinDelay: must be greater than 0 (got 00:00:00)")]
    [InlineData("Items:0:MaxRecordRateHz", "-1", "Sensors:Items:0:MaxRecordRateHz: must be 0 (every reading) or a positive rate (got -1)")]
    public void Each_bad_value_is_reported_with_its_full_key_and_the_allowed_values(string key, string value, string expected)
    {
        var items = new Dictionary<string, string> { ["Items:0:Id"] = "gps0", ["Items:0:Type"] = "nmea", ["Items:0:Device"] = "/dev/ttyACM0" };
        items[key] = value;
        Assert.Contains(expected, Validate([.. items.Select(kv => (kv.Key, kv.Value))]));
    }

    [Fact]
    public void Line_sensor_problems_are_all_reported_together()
    {
        var errors = Validate(("Items:0:Id", "air0"), ("Items:0:Type", "lines"), ("Items:0:Device", "/dev/ttyUSB0"), ("Items:0:Format", "xml"),
            ("Items:0:Separator", ";;"), ("Items:0:MaxLineLength", "5"),
            ("Items:1:Id", "air0"), ("Items:1:Type", "lines"), ("Items:1:Device", "/dev/ttyUSB0"), ("Items:1:Format", "csv"),
            ("Items:2:Id", "gpsd0"), ("Items:2:Type", "gpsd"), ("Items:2:Port", "70000"),
            ("Items:3:Id", "alt0"), ("Items:3:Type", "tfmini"), ("Items:3:Device", "/dev/ttyS0"), ("Items:3:Model", "tf02"));
        Assert.Contains("Sensors:Items:0:Format: must be one of json, keyvalue, csv (got \"xml\")", errors);
        Assert.Contains("Sensors:Items:0:Separator: must be one character other than CR, LF or '\"' (got \";;\")", errors);
        Assert.Contains("Sensors:Items:0:MaxLineLength: must be 16-4096 (got 5)", errors);
        Assert.Contains("Sensors:Items:1:Id: \"air0\" is used by another sensor; ids must be unique", errors);
        Assert.Contains("Sensors:Items:1:Device: \"/dev/ttyUSB0\" is used by another sensor; a port can be opened by one sensor only", errors);
        Assert.Contains("Sensors:Items:1:Fields: csv needs the column names in order, e.g. Fields:0:Name=temperature", errors);
        Assert.Contains("Sensors:Items:2:Port: must be 1-65535 (got 70000)", errors);
        Assert.Contains("Sensors:Items:3:Model: must be one of tfmini-s, tfmini (got \"tf02\")", errors);
    }

    [Fact]
    public void Gps_time_marks_the_clock_only_when_the_system_clock_agrees()
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var clock = new SystemWallClock(time, TimeSource.Unsynced);
        using var listener = new WallClockGpsTimeListener(clock, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(10), time,
            NullLogger<WallClockGpsTimeListener>.Instance);
        var now = time.GetUtcNow();

        listener.OnGpsTime(now.AddMinutes(-5), now); // the system clock is 5 min ahead of GPS
        Assert.Equal(TimeSource.Unsynced, clock.Source);
        listener.OnGpsTime(now.AddMilliseconds(-400), now);
        Assert.Equal(TimeSource.Gps, clock.Source);
        Assert.Equal(TimeSource.Gps, clock.Now().Source);
        listener.OnGpsTime(now.AddSeconds(30), now); // the system clock jumped: no longer GPS-backed
        Assert.Equal(TimeSource.Unsynced, clock.Source);
    }
}
