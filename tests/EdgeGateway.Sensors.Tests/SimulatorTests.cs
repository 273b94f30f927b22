using System.Text;
using EdgeGateway.Sensors.Nmea;
using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Sensors.Tests;

public class SimulatorTests
{
    [Fact]
    public void Simulated_gps_sentences_all_parse_and_follow_the_position_source()
    {
        var position = (North: 0.0, East: 0.0, Height: 0.0);
        var gps = new SimulatedGps(new DelegatePositionSource(() => position));
        var acc = new GpsFixAccumulator();
        var t = new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
        var fixes = new List<GpsFix>();
        for (var i = 0; i < 3; i++)
        {
            position = (i * 500.0, i * -300.0, i * 100.0); // 5 m north, 3 m west, 1 m up per second
            foreach (var s in gps.Epoch(t.AddSeconds(i)))
            {
                Assert.Equal(NmeaParseResult.Ok, NmeaParser.Parse(Encoding.ASCII.GetBytes(s), out var sentence));
                if (acc.Add(sentence) is { } fix)
                {
                    fixes.Add(fix);
                }
            }
        }

        Assert.Equal(3, fixes.Count);
        Assert.Equal(gps.OriginLatDeg, fixes[0].LatitudeDeg!.Value, 6);
        Assert.Equal(10.0, (fixes[2].LatitudeDeg!.Value - fixes[0].LatitudeDeg!.Value) * Math.PI / 180 * 6378137, 1);
        Assert.True(fixes[2].LongitudeDeg < fixes[0].LongitudeDeg);
        Assert.Equal(2.0, fixes[2].AltitudeMslM!.Value - fixes[0].AltitudeMslM!.Value, 1);
        Assert.Equal(Math.Sqrt(34), fixes[2].SpeedMps!.Value, 2);
        Assert.Equal(t.AddSeconds(2), fixes[2].UtcTime);
    }

    [Fact]
    public void Pseudo_terminal_link_is_re_pointed_and_removed_on_unplug()
    {
        var dir = Directory.CreateTempSubdirectory("edge-pty-");
        try
        {
            var link = Path.Combine(dir.FullName, "gps0");
            string firstSlave;
            using (var first = PseudoTerminal.Open(link))
            {
                firstSlave = first.SlavePath;
                Assert.Equal(firstSlave, new FileInfo(link).LinkTarget);
                using var second = PseudoTerminal.Open(link);
                Assert.Equal(second.SlavePath, new FileInfo(link).LinkTarget); // re-pointed in one rename
                second.Dispose();
                Assert.False(File.Exists(link) || new FileInfo(link).LinkTarget is not null, "unplug removes the link that points at it");
            }

            Assert.False(File.Exists(firstSlave), "the pty slave disappears with its master");
        }
        finally
        {
            dir.Delete(true);
        }
    }

    [Fact]
    public void Writing_to_a_pty_nobody_reads_drops_instead_of_blocking()
    {
        using var pty = PseudoTerminal.Open();
        var chunk = new byte[64 * 1024];
        for (var i = 0; i < 20; i++)
        {
            pty.Write(chunk);
        }

        Assert.True(pty.BytesDropped > 0);
    }
}
