using System.Diagnostics;
using System.Text.Json;
using EdgeGateway.Sensors.Sources;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

/// <summary>Against the real tools: socat replaying a log into a pty, and gpsfake feeding a real gpsd.</summary>
public sealed class InteropTests(ITestOutputHelper output) : IDisposable
{
    private const string Install = "apt-get install -y socat gpsd gpsd-clients";
    private readonly TempDir _dir = new("edge-interop-");
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (var p in _processes)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
            }

            p.Dispose();
        }

        _dir.Dispose();
    }

    private static string Tool(string name)
    {
        foreach (var dir in new[] { "/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin", "/sbin" })
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        Assert.Fail($"'{name}' is not installed; this test needs the real tool. Install it with: {Install}");
        return "";
    }

    private Process Start(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        _processes.Add(p);
        p.OutputDataReceived += (_, e) => Log($"[{Path.GetFileName(file)}] {e.Data}");
        p.ErrorDataReceived += (_, e) => Log($"[{Path.GetFileName(file)}] {e.Data}");
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private void Log(string line)
    {
        try
        {
            output.WriteLine(line);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static Dictionary<DateTimeOffset, JsonElement> ByTime(IEnumerable<JsonElement> payloads)
    {
        var result = new Dictionary<DateTimeOffset, JsonElement>();
        foreach (var p in payloads)
        {
            // gpsd sends several TPVs per epoch as sentences arrive; the last, 3D one is the epoch's answer.
            if (p.TryGetProperty("gps_time", out var t) && p.TryGetProperty("alt_msl_m", out _))
            {
                result[t.GetDateTimeOffset()] = p;
            }
        }

        return result;
    }

    [Fact]
    public async Task Socat_replay_and_gpsfake_through_gpsd_give_the_same_positions()
    {
        var socat = Tool("socat");
        var gpsfake = Tool("gpsfake");
        Tool("gpsd");
        var log = SerialPortTests.LogPath;
        var link = Path.Combine(_dir.Path, "gps-replay");
        var gpsdPort = FreePort.Tcp();

        // socat: the log into a pty, once the slave is opened; rawer so nothing is translated before we set raw mode.
        Start(socat, "-u", $"OPEN:{log},ignoreeof", $"PTY,link={link},rawer,wait-slave");
        await TaskTimeouts.Eventually(() => File.Exists(link), "socat created its pty link");

        await using var host = await SensorHost.StartAsync(output, new Dictionary<string, string?>
        {
            ["Sensors:ReopenMinDelay"] = "00:00:00.100",
            ["Sensors:ReopenMaxDelay"] = "00:00:00.200",
            ["Sensors:Items:0:Id"] = "replay",
            ["Sensors:Items:0:Type"] = "nmea",
            ["Sensors:Items:0:Device"] = link,
            ["Sensors:Items:0:Baud"] = "4800",
            ["Sensors:Items:0:MaxRecordRateHz"] = "0",
            ["Sensors:Items:1:Id"] = "viagpsd",
            ["Sensors:Items:1:Type"] = "gpsd",
            ["Sensors:Items:1:Host"] = "127.0.0.1",
            ["Sensors:Items:1:Port"] = gpsdPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Sensors:Items:1:MaxRecordRateHz"] = "0",
        });

        // gpsfake: its own gpsd on a free port, the same log fed once, a sentence every 100 ms. It feeds from the
        // moment gpsd starts, so it starts after the source, which keeps knocking until gpsd listens.
        Start(gpsfake, "-1", "-q", "-P", gpsdPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "0.1", log);
        await TaskTimeouts.Eventually(() => host.Payloads("sensor/replay").Count >= 12, "all 12 epochs through socat", TimeSpan.FromSeconds(30));
        await TaskTimeouts.Eventually(() => ByTime(host.Payloads("sensor/viagpsd")).Count >= 6, "most epochs through gpsfake and gpsd", TimeSpan.FromSeconds(45));

        var direct = ByTime(host.Payloads("sensor/replay"));
        var viaGpsd = ByTime(host.Payloads("sensor/viagpsd"));
        Assert.Equal(12, direct.Count);
        var common = direct.Keys.Intersect(viaGpsd.Keys).OrderBy(t => t).ToList();
        output.WriteLine($"epochs: direct {direct.Count}, via gpsd {viaGpsd.Count}, in common {common.Count}");
        Assert.True(common.Count >= 6, $"only {common.Count} epochs in common"); // gpsd needs a few sentences to lock on
        foreach (var t in common)
        {
            var a = direct[t];
            var b = viaGpsd[t];
            Assert.Equal("gpsd", b.GetProperty("origin").GetString());
            Assert.Equal(a.GetProperty("lat_deg").GetDouble(), b.GetProperty("lat_deg").GetDouble(), 7);
            Assert.Equal(a.GetProperty("lon_deg").GetDouble(), b.GetProperty("lon_deg").GetDouble(), 7);
            Assert.Equal(a.GetProperty("alt_msl_m").GetDouble(), b.GetProperty("alt_msl_m").GetDouble(), 3);
            Assert.Equal(a.GetProperty("speed_mps").GetDouble(), b.GetProperty("speed_mps").GetDouble(), 2);
            Assert.Equal(a.GetProperty("course_deg").GetDouble(), b.GetProperty("course_deg").GetDouble(), 2);
            Assert.Equal("3d", b.GetProperty("fix_mode").GetString());
            Assert.Equal(8, b.GetProperty("satellites_used").GetInt32());
        }

        Assert.Equal(0, host.Sensor("replay").Rejected);
        host.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Gpsd_source_reports_connection_refused_and_connects_when_gpsd_appears()
    {
        var gpsfake = Tool("gpsfake");
        Tool("gpsd");
        var port = FreePort.Tcp();
        await using var host = await SensorHost.StartAsync(output, new Dictionary<string, string?>
        {
            ["Sensors:ReopenMinDelay"] = "00:00:00.200",
            ["Sensors:ReopenMaxDelay"] = "00:00:00.500",
            ["Sensors:Items:0:Id"] = "viagpsd",
            ["Sensors:Items:0:Type"] = "gpsd",
            ["Sensors:Items:0:Port"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        await TaskTimeouts.Eventually(() => host.Sensor("viagpsd").Link == SensorLinkState.Failed, "nothing listening yet");
        Assert.Contains("connection refused: is gpsd running", host.Sensor("viagpsd").Summary, StringComparison.Ordinal);

        Start(gpsfake, "-q", "-P", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-c", "0.05", SerialPortTests.LogPath);
        await TaskTimeouts.Eventually(() => host.Sensor("viagpsd").Readings > 0, "readings once gpsd is up", TimeSpan.FromSeconds(30));
        Assert.Equal(SensorLinkState.Open, host.Sensor("viagpsd").Link);
    }
}
