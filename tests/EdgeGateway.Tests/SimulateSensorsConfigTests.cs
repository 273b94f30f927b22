using System.Globalization;
using EdgeGateway.Sensors.Hosting;
using EdgeGateway.Simulation;
using Microsoft.Extensions.Configuration;

namespace EdgeGateway.Tests;

/// <summary>--simulate's sensors replace the configured Sensors:Items instead of merging into them key by key.</summary>
public sealed class SimulateSensorsConfigTests
{
    [Fact]
    public async Task Simulate_replaces_the_configured_sensor_items_and_keeps_the_top_level_sensor_settings()
    {
        var address = LoopbackAddress.Next();
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Simulator:Address"] = address.ToString(),
            ["Simulator:CommandPort"] = FreePort.Udp(address).ToString(CultureInfo.InvariantCulture),
            ["Drones:StatePort"] = FreePort.Udp().ToString(CultureInfo.InvariantCulture),
            ["Sensors:StaleAfter"] = "00:00:07",
            // A real set-up at the same indices the simulator uses, with keys the simulated items do not set.
            ["Sensors:Items:0:Id"] = "boat-gps",
            ["Sensors:Items:0:Type"] = "nmea",
            ["Sensors:Items:0:Device"] = "/dev/ttyUSB7",
            ["Sensors:Items:0:Enabled"] = "false",
            ["Sensors:Items:0:MaxRecordRateHz"] = "1",
            ["Sensors:Items:1:Separator"] = ";",
            ["Sensors:Items:1:Fields:6:Name"] = "leaked",
            ["Sensors:Items:3:Id"] = "gpsd0",
            ["Sensors:Items:3:Type"] = "gpsd",
            // Two real drones: the simulated one must replace them, not take index 0 and leave the second flying for real.
            ["Drones:Items:0:Id"] = "field-1",
            ["Drones:Items:0:Address"] = "192.168.10.1",
            ["Drones:Items:1:Id"] = "field-2",
            ["Drones:Items:1:Address"] = "192.168.10.2",
        });

        await using var simulation = await SimulationEnvironment.TryStartAsync(configuration, CancellationToken.None).WithTimeout();
        Assert.NotNull(simulation);
        simulation.ApplyTo(configuration);

        var options = new SensorsOptions();
        configuration.GetSection("Sensors").Bind(options);
        Assert.Equal(["gps0", "air0", "tfmini0", "baro0", "power0", "imu0"], options.Items.Select(i => i.Id));
        Assert.Equal(["nmea", "lines", "tfmini", "i2c", "i2c", "i2c"], options.Items.Select(i => i.Type));
        Assert.Equal(["bme280", "ina219", "mpu6050"], options.Items.Where(i => i.Type == "i2c").Select(i => i.Device));
        Assert.All(options.Items.Where(i => i.Type != "i2c"), i =>
        {
            Assert.True(i.Enabled);
            Assert.Equal(10, i.MaxRecordRateHz);
            Assert.Equal(",", i.Separator);
            Assert.NotEqual("/dev/ttyUSB7", i.Device);
            Assert.True(File.Exists(i.Device), $"{i.Id}: the simulated device {i.Device} exists");
        });
        Assert.Equal(["temperature", "humidity", "pressure", "pm2_5"], options.Items[1].Fields.Select(f => f.Name));
        Assert.Equal("i2c", configuration["Sensors:Items:3:Type"]); // the configured gpsd item at index 3 is hidden, not merged
        Assert.Equal(TimeSpan.FromSeconds(7), options.StaleAfter); // settings outside Items still apply
        Assert.Empty(options.Validate("Sensors"));

        Assert.Equal("tello-1", configuration["Drones:Items:0:Id"]);
        Assert.StartsWith(address.ToString() + ":", configuration["Drones:Items:0:Address"], StringComparison.Ordinal);
        Assert.Null(configuration["Drones:Items:1:Id"]);
        Assert.Null(configuration["Drones:Items:1:Address"]);
    }
}
