using System.Globalization;
using System.Text;
using EdgeGateway.Simulator.Serial;
using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>The sensors view: the GPS track from the simulated GPS, the emulated I2C chips, and an unplugged sensor shown stale with its reason.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleSensorTests(BrowserFixture browser)
{
    [Fact]
    public async Task The_gps_track_draws_from_the_simulated_gps_and_follows_the_drone()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync(view: "sensors");

        await Assertions.Expect(page.Page.Locator("#gps-card")).ToContainTextAsync("3d");
        await Assertions.Expect(page.Page.Locator("#track-caption")).ToContainTextAsync("fixes");
        Assert.True((await gateway.ExecuteAsync("takeoff")).GetProperty("success").GetBoolean());
        Assert.True((await gateway.ExecuteAsync("move_forward", new { distance = 300 })).GetProperty("success").GetBoolean());

        // The simulated GPS follows the drone: the track ends about 3 m from home.
        await TaskTimeouts.Eventually(() =>
        {
            var caption = page.Page.Locator("#track-caption").InnerTextAsync().GetAwaiter().GetResult();
            var at = caption.IndexOf("now ", StringComparison.Ordinal);
            return at >= 0 && double.TryParse(caption[(at + 4)..].Split(' ')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var m) && m >= 2.0;
        }, "the track shows the drone at least 2 m from home", ConsoleGateway.Slow);
        var points = int.Parse(await page.Page.Locator("#track").GetAttributeAsync("data-points") ?? "0", CultureInfo.InvariantCulture);
        Assert.True(points >= 2, $"{points} fixes drawn");
        Assert.Empty(page.Problems);
    }

    [Fact]
    public async Task The_emulated_i2c_chips_show_as_cards_with_their_values()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync(view: "sensors");

        var baro = page.Page.Locator("article[data-sensor='baro0']");
        await Assertions.Expect(baro.Locator("h3")).ToHaveTextAsync("baro0 · i2c");
        await Assertions.Expect(baro).ToContainTextAsync("pressure_hpa");
        await Assertions.Expect(baro).ToContainTextAsync("humidity_pct");
        await Assertions.Expect(baro.Locator("[data-testid='sensor-health']")).ToContainTextAsync("healthy");
        await Assertions.Expect(page.Page.Locator("article[data-sensor='power0']")).ToContainTextAsync("current_a");
        await Assertions.Expect(page.Page.Locator("article[data-sensor='imu0']")).ToContainTextAsync("accel_z_g");
        Assert.Empty(page.Problems);
    }

    [Fact]
    public async Task An_unplugged_sensor_shows_as_stale_with_its_reason()
    {
        var dir = Directory.CreateTempSubdirectory("eg-console-tty-").FullName;
        var link = Path.Combine(dir, "gps");
        var pty = PseudoTerminal.Open(link);
        using var feeding = new CancellationTokenSource();
        var feeder = Task.Run(async () =>
        {
            var lat = 47.397742;
            while (!feeding.IsCancellationRequested)
            {
                lat += 0.000002;
                var now = DateTime.UtcNow;
                pty.Write(Nmea.Rmc(now, lat, 8.545594) + Nmea.Gga(now, lat, 8.545594));
                await Task.Delay(200);
            }
        });
        try
        {
            await using var gateway = await ConsoleGateway.StartAsync(browser, "--Simulator:SerialSensors=false",
                "--Sensors:Items:0:Id=gps9", "--Sensors:Items:0:Type=nmea", $"--Sensors:Items:0:Device={link}", "--Sensors:Items:0:Baud=9600");
            var page = await gateway.OpenAsync(view: "sensors");
            var card = page.Page.Locator("[data-sensor=gps9]");
            await Assertions.Expect(card.Locator("[data-testid=sensor-health]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^healthy · open"));

            await feeding.CancelAsync();
            await feeder;
            pty.Dispose(); // unplugged: the device and its link are gone

            await Assertions.Expect(card.Locator("[data-testid=sensor-health]")).ToContainTextAsync("stale", new() { Timeout = 30_000 });
            await Assertions.Expect(card.Locator("[data-testid=sensor-health]")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^(degraded|unhealthy) · stale"));
            var reason = await card.Locator("[data-testid=sensor-reason]").InnerTextAsync();
            Assert.Contains(link, reason, StringComparison.Ordinal);
            Assert.Equal("reason", await card.Locator("[data-testid=sensor-reason]").GetAttributeAsync("class"));
            await Assertions.Expect(page.Page.Locator("#gps-card")).ToContainTextAsync("stale");
        }
        finally
        {
            await feeding.CancelAsync();
            pty.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    private static class Nmea
    {
        public static string Rmc(DateTime t, double lat, double lon)
            => Sentence($"GPRMC,{t:HHmmss.ff},A,{Lat(lat)},{Lon(lon)},0.0,0.0,{t:ddMMyy},,,A");

        public static string Gga(DateTime t, double lat, double lon)
            => Sentence($"GPGGA,{t:HHmmss.ff},{Lat(lat)},{Lon(lon)},1,09,0.9,488.0,M,47.0,M,,");

        private static string Lat(double deg) => Dm(Math.Abs(deg), 2) + (deg >= 0 ? ",N" : ",S");

        private static string Lon(double deg) => Dm(Math.Abs(deg), 3) + (deg >= 0 ? ",E" : ",W");

        private static string Dm(double deg, int width)
        {
            var d = (int)deg;
            var m = (deg - d) * 60;
            return d.ToString(new string('0', width), CultureInfo.InvariantCulture) + m.ToString("00.000000", CultureInfo.InvariantCulture);
        }

        private static string Sentence(string body)
        {
            byte sum = 0;
            foreach (var c in Encoding.ASCII.GetBytes(body))
            {
                sum ^= c;
            }

            return $"${body}*{sum:X2}\r\n";
        }
    }
}
