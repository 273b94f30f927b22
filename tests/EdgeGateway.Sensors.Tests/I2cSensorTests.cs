using System.Collections.Concurrent;
using System.Device.I2c;
using EdgeGateway.Health;
using EdgeGateway.Sensors.I2c;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Simulator.I2c;
using EdgeGateway.TestSupport;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

/// <summary>
/// I2C chips read through the real dotnet/iot bindings, against emulated chips at the I2cDevice seam built from the
/// datasheets' register maps.
/// </summary>
public sealed class I2cSensorTests(ITestOutputHelper output)
{
    private static readonly I2cChipOptions DefaultChip = new(0.1, 3.2);

    [Fact]
    public void Bme280_gives_the_datasheet_worked_example_through_the_binding()
    {
        // BMP280 datasheet §3.12: these trimming values with adc_T = 519888 and adc_P = 415148 give 25.08 °C and
        // 100653.27 Pa (t_fine = 128422). The BME280 shares the temperature and pressure compensation.
        var bus = new SimulatedI2cBus(1);
        var emulated = bus.Add(new EmulatedBmx280(0x76, EmulatedBmx280.Bme280ChipId, Bmx280Calibration.DatasheetExample));
        emulated.SetRaw(519888, 415148, 0x8000);
        using var chip = I2cChip.Open(I2cSensorModel.Bme280, bus.Open(new I2cConnectionSettings(1, 0x76)), DefaultChip);

        var reading = chip.Read();

        Assert.Equal("bme280", reading.Model);
        Assert.Equal(25.08, reading["temperature_c"], 2);
        Assert.Equal(1006.53, reading["pressure_hpa"], 2);
        Assert.Equal(3, emulated.PowerMode); // normal mode: the chip measures on its own
    }

    [Fact]
    public void Bme280_humidity_follows_the_datasheet_compensation()
    {
        var bus = new SimulatedI2cBus(1);
        var emulated = bus.Add(new EmulatedBmx280(0x77));
        using var chip = I2cChip.Open(I2cSensorModel.Bme280, bus.Open(new I2cConnectionSettings(1, 0x77)), DefaultChip);

        foreach (var (t, p, h) in new[] { (21.5, 95_000.0, 40.0), (-10.0, 101_325.0, 85.0), (35.0, 80_000.0, 12.5) })
        {
            emulated.SetMeasurement(t, p, h);
            var reading = chip.Read();
            Assert.Equal(t, reading["temperature_c"], 1);
            Assert.Equal(p / 100, reading["pressure_hpa"], 1);
            Assert.Equal(h, reading["humidity_pct"], 1);
        }
    }

    [Fact]
    public void Bmp280_has_no_humidity()
    {
        var bus = new SimulatedI2cBus(1);
        bus.Add(new EmulatedBmx280(0x76, EmulatedBmx280.Bmp280ChipId));
        using var chip = I2cChip.Open(I2cSensorModel.Bmp280, bus.Open(new I2cConnectionSettings(1, 0x76)), DefaultChip);

        var reading = chip.Read();

        Assert.Equal(25.08, reading["temperature_c"], 2);
        Assert.DoesNotContain(reading.Values, v => v.Key == "humidity_pct");
    }

    [Theory]
    [InlineData(2.0)] // the datasheet's example: 2 A expected → minimum LSB 61 µA, chosen 100 µA
    [InlineData(3.2)] // the full ±320 mV range across 0.1 Ω
    public void Ina219_calibration_follows_the_datasheet_example(double maxCurrent)
    {
        var cal = Ina219Calibration.For(0.1, maxCurrent);

        Assert.Equal(100e-6, cal.CurrentLsbA, 9);
        Assert.Equal(4096, cal.Register);
    }

    [Fact]
    public void Ina219_reads_bus_voltage_current_and_power_through_the_binding()
    {
        var bus = new SimulatedI2cBus(1);
        var emulated = bus.Add(new EmulatedIna219(0x40));
        using var chip = I2cChip.Open(I2cSensorModel.Ina219, bus.Open(new I2cConnectionSettings(1, 0x40)), DefaultChip);
        Assert.Equal(4096, emulated.Calibration); // what the binding wrote

        // 120 mV across 0.1 Ω (shunt register 12000 × 10 µV) at 5.00 V (1250 × 4 mV, in bits 15-3):
        // current register 12000 × 4096 / 4096 = 12000 × 100 µA = 1.2 A; power 12000 × 1250 / 5000 = 3000 × 2 mW = 6 W.
        emulated.SetRaw(12000, (ushort)((1250 << 3) | 0b10));
        var reading = chip.Read();

        Assert.Equal(5.0, reading["bus_voltage_v"], 3);
        Assert.Equal(120.0, reading["shunt_voltage_mv"], 2);
        Assert.Equal(1.2, reading["current_a"], 4);
        Assert.Equal(6.0, reading["power_w"], 3);
    }

    [Fact]
    public void Mpu6050_scales_raw_counts_by_the_datasheet_sensitivity()
    {
        var bus = new SimulatedI2cBus(1);
        var emulated = bus.Add(new EmulatedMpu6050(0x68));
        using var chip = I2cChip.Open(I2cSensorModel.Mpu6050, bus.Open(new I2cConnectionSettings(1, 0x68)), DefaultChip);

        // ±2 g: 16384 LSB/g; ±250 °/s: 131 LSB/(°/s) (MPU-6000/6050 product specification, §6.1-6.2).
        emulated.SetRaw((16384, -8192, 16384), (131, -262, 0), 0);
        var reading = chip.Read();

        Assert.Equal(1.0, reading["accel_x_g"], 3);
        Assert.Equal(-0.5, reading["accel_y_g"], 3);
        Assert.Equal(1.0, reading["accel_z_g"], 3);
        Assert.InRange(reading["gyro_x_dps"], 0.998, 1.002);
        Assert.InRange(reading["gyro_y_dps"], -2.004, -1.996);
        Assert.Equal(0.0, reading["gyro_z_dps"], 3);
    }

    [Fact]
    public void A_wrong_chip_id_is_a_clear_error()
    {
        var bus = new SimulatedI2cBus(1);
        bus.Add(new EmulatedBmx280(0x76, EmulatedBmx280.Bme280ChipId));
        bus.Add(new EmulatedMpu6050(0x68, whoAmI: 0x71));

        var bmx = Assert.Throws<I2cChipMismatchException>(
            () => I2cChip.Open(I2cSensorModel.Bmp280, bus.Open(new I2cConnectionSettings(1, 0x76)), DefaultChip));
        Assert.Contains("reports chip id 0x60 where a BMP280 has 0x58", bmx.Message, StringComparison.Ordinal);
        Assert.Contains("set Device=bme280", bmx.Message, StringComparison.Ordinal);

        var mpu = Assert.Throws<I2cChipMismatchException>(
            () => I2cChip.Open(I2cSensorModel.Mpu6050, bus.Open(new I2cConnectionSettings(1, 0x68)), DefaultChip));
        Assert.Contains("WHO_AM_I 0x71 where an MPU6050 has 0x68 (an MPU-9250)", mpu.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task I2c_sensors_are_read_recorded_and_shown_in_the_registry()
    {
        var bus = new SimulatedI2cBus(1);
        bus.Add(new EmulatedBmx280(0x76));
        bus.Add(new EmulatedIna219(0x40)).SetMeasurement(5.1, 0.05);
        bus.Add(new EmulatedMpu6050(0x68));
        await using var host = await SensorHost.StartAsync(output, new()
        {
            ["Sensors:Items:0:Id"] = "baro0", ["Sensors:Items:0:Type"] = "i2c", ["Sensors:Items:0:Device"] = "bme280",
            ["Sensors:Items:0:RateHz"] = "20",
            ["Sensors:Items:1:Id"] = "power0", ["Sensors:Items:1:Type"] = "i2c", ["Sensors:Items:1:Device"] = "ina219",
            ["Sensors:Items:1:Address"] = "0x40", ["Sensors:Items:1:RateHz"] = "20",
            ["Sensors:Items:2:Id"] = "imu0", ["Sensors:Items:2:Type"] = "i2c", ["Sensors:Items:2:Device"] = "mpu6050",
            ["Sensors:Items:2:Address"] = "104", ["Sensors:Items:2:RateHz"] = "20",
        }, configure: s => s.AddSingleton<I2cDeviceOpener>(bus.Open));

        await TaskTimeouts.Eventually(() => host.Registry.Snapshot().All(s => s.Readings >= 3), "every chip read at least three times");

        var baro = host.Sensor("baro0");
        Assert.Equal(("i2c", "/dev/i2c-1@0x76", SensorLinkState.Open, HealthState.Healthy), (baro.Type, baro.Endpoint, baro.Link, baro.State));
        Assert.Contains("bme280 at 0x76 on /dev/i2c-1", baro.Summary, StringComparison.Ordinal);
        var power = host.Payloads("sensor/power0")[^1];
        Assert.Equal("i2c", power.GetProperty("type").GetString());
        Assert.Equal("ina219", power.GetProperty("model").GetString());
        Assert.Equal(5.1, power.GetProperty("values").GetProperty("bus_voltage_v").GetDouble(), 3);
        Assert.Equal(0.5, power.GetProperty("values").GetProperty("current_a").GetDouble(), 3);
        var imu = host.Payloads("sensor/imu0")[^1];
        Assert.Equal(1.0, imu.GetProperty("values").GetProperty("accel_z_g").GetDouble(), 3);
        host.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task A_nack_mid_read_degrades_the_sensor_with_the_reason_then_it_recovers()
    {
        var bus = new SimulatedI2cBus(1);
        var chip = bus.Add(new EmulatedIna219(0x40));
        chip.SetMeasurement(5.0, 0.02);
        var snapshots = new ConcurrentQueue<SensorSnapshot>();
        await using var host = await SensorHost.StartAsync(output, I2cItem("ina219", "0x40"), configure: s => s.AddSingleton<I2cDeviceOpener>(bus.Open));
        host.Registry.StateChanged += (_, s) => snapshots.Enqueue(s);
        await TaskTimeouts.Eventually(() => host.Sensor("i2c0").Readings >= 3, "readings before the fault");

        // Two unacknowledged transfers: the read in progress fails (a reading takes several transfers).
        chip.FailNextTransfers(2);

        await TaskTimeouts.Eventually(() => snapshots.Any(s => s.State == HealthState.Degraded), "the failed read is reported");
        var degraded = snapshots.First(s => s.State == HealthState.Degraded);
        Assert.Equal(SensorLinkState.Open, degraded.Link);
        Assert.Contains("read failed (Error 121 performing I2C data transfer: remote I/O error", degraded.Summary, StringComparison.Ordinal);
        Assert.Contains("reopening in", degraded.Summary, StringComparison.Ordinal);
        var readingsAtFault = degraded.Readings;

        await TaskTimeouts.Eventually(() => host.Sensor("i2c0") is { State: HealthState.Healthy, Link: SensorLinkState.Open } s && s.Readings > readingsAtFault + 2,
            "readings resume after the chip is reopened");
        Assert.Equal(1, host.Sensor("i2c0").Reconnects);
    }

    [Fact]
    public async Task Hot_unplug_of_the_bus_disconnects_the_sensor_until_the_bus_is_back()
    {
        var bus = new SimulatedI2cBus(3);
        bus.Add(new EmulatedBmx280(0x76));
        var settings = I2cItem("bme280", null);
        settings["Sensors:Items:0:Bus"] = "3";
        await using var host = await SensorHost.StartAsync(output, settings, configure: s => s.AddSingleton<I2cDeviceOpener>(bus.Open));
        await TaskTimeouts.Eventually(() => host.Sensor("i2c0").Readings >= 2, "readings before the unplug");

        bus.Unplug();

        await TaskTimeouts.Eventually(() => host.Sensor("i2c0") is { Link: SensorLinkState.Disconnected, State: HealthState.Unhealthy },
            "the source notices the bus has gone");
        Assert.Contains("/dev/i2c-3 does not exist", host.Sensor("i2c0").Summary, StringComparison.Ordinal);
        var readingsWhileGone = host.Sensor("i2c0").Readings;

        bus.Replug();

        await TaskTimeouts.Eventually(() => host.Sensor("i2c0") is { Link: SensorLinkState.Open, State: HealthState.Healthy, Reconnects: 1 } s
            && s.Readings > readingsWhileGone + 1, "the sensor is read again once the bus is back");
    }

    [Fact]
    public async Task Nothing_at_the_address_and_a_wrong_chip_are_failures_that_say_why()
    {
        var bus = new SimulatedI2cBus(1);
        bus.Add(new EmulatedBmx280(0x76, EmulatedBmx280.Bmp280ChipId));
        var settings = I2cItem("bme280", "0x76");
        settings["Sensors:Items:1:Id"] = "missing";
        settings["Sensors:Items:1:Type"] = "i2c";
        settings["Sensors:Items:1:Device"] = "ina219";
        settings["Sensors:Items:1:Address"] = "0x41";
        await using var host = await SensorHost.StartAsync(output, settings, configure: s => s.AddSingleton<I2cDeviceOpener>(bus.Open));

        await TaskTimeouts.Eventually(() => host.Sensor("i2c0").Link == SensorLinkState.Failed && host.Sensor("missing").Link == SensorLinkState.Failed,
            "both sensors fail to open");
        var wrong = host.Sensor("i2c0");
        Assert.Equal(HealthState.Unhealthy, wrong.State);
        Assert.Contains("reports chip id 0x58 where a BME280 has 0x60 (a BMP280: set Device=bmp280)", wrong.Summary, StringComparison.Ordinal);
        Assert.Contains("nothing answers at 0x41 on /dev/i2c-1", host.Sensor("missing").Summary, StringComparison.Ordinal);
        Assert.Contains("i2cdetect -y 1", host.Sensor("missing").Summary, StringComparison.Ordinal);
    }

    [Fact]
    public void I2c_configuration_errors_name_the_key()
    {
        var options = SensorHost.Options(new()
        {
            ["Sensors:Items:0:Id"] = "a", ["Sensors:Items:0:Type"] = "i2c", ["Sensors:Items:0:Device"] = "bme680",
            ["Sensors:Items:1:Id"] = "b", ["Sensors:Items:1:Type"] = "i2c", ["Sensors:Items:1:Device"] = "bme280", ["Sensors:Items:1:Address"] = "0x78",
            ["Sensors:Items:2:Id"] = "c", ["Sensors:Items:2:Type"] = "i2c", ["Sensors:Items:2:Device"] = "bme280", ["Sensors:Items:2:Address"] = "zz",
            ["Sensors:Items:3:Id"] = "d", ["Sensors:Items:3:Type"] = "i2c", ["Sensors:Items:3:Device"] = "bmp280", ["Sensors:Items:3:RateHz"] = "0", ["Sensors:Items:3:Address"] = "0x77",
            ["Sensors:Items:4:Id"] = "e", ["Sensors:Items:4:Type"] = "i2c", ["Sensors:Items:4:Device"] = "bmp280", ["Sensors:Items:4:Address"] = "119",
            ["Sensors:Items:5:Id"] = "f", ["Sensors:Items:5:Type"] = "i2c", ["Sensors:Items:5:Device"] = "ina219", ["Sensors:Items:5:MaxCurrentA"] = "5",
            ["Sensors:Items:6:Id"] = "g", ["Sensors:Items:6:Type"] = "i2c", ["Sensors:Items:6:Device"] = "ina219", ["Sensors:Items:6:Bus"] = "-1",
            ["Sensors:Items:6:Address"] = "0x41",
        });

        var errors = options.Validate("Sensors").ToList();

        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:0:Device: for Type=i2c, the chip: one of bme280, bmp280, ina219, mpu6050 (got \"bme680\")", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:1:Address: must be a 7-bit address 0x03-0x77", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:2:Address: must be a 7-bit address", StringComparison.Ordinal) && e.Contains("\"zz\"", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:3:RateHz: must be greater than 0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:4:Address: 0x77 on bus 1 is used by another sensor", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:5:MaxCurrentA: 5 A across 0.1 Ω is 500 mV", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Sensors:Items:6:Bus: must be 0-255", StringComparison.Ordinal));
        Assert.True(errors.Count == 7, string.Join("\n", errors));
    }

    private static Dictionary<string, string?> I2cItem(string device, string? address)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Sensors:Items:0:Id"] = "i2c0",
            ["Sensors:Items:0:Type"] = "i2c",
            ["Sensors:Items:0:Device"] = device,
            ["Sensors:Items:0:RateHz"] = "20",
            ["Sensors:ReopenMinDelay"] = "00:00:00.2",
            ["Sensors:ReopenMaxDelay"] = "00:00:01",
        };
        if (address is not null)
        {
            settings["Sensors:Items:0:Address"] = address;
        }

        return settings;
    }
}
