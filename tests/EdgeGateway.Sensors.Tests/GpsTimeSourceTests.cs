using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace EdgeGateway.Sensors.Tests;

/// <summary>GPS as the gateway's time source: adopted when it agrees, and given up when it goes quiet.</summary>
public sealed class GpsTimeSourceTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(10);

    private static (ManualTimeProvider Time, SystemWallClock Clock, WallClockGpsTimeListener Listener) Create(TimeSource initial,
        ILogger<WallClockGpsTimeListener>? logger = null)
    {
        var time = new ManualTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        var clock = new SystemWallClock(time, initial);
        return (time, clock, new WallClockGpsTimeListener(clock, TimeSpan.FromSeconds(2), Hold, time, logger ?? NullLogger<WallClockGpsTimeListener>.Instance));
    }

    [Fact]
    public void Gps_time_claim_expires_after_silence_and_comes_back_with_the_next_agreeing_time()
    {
        var (time, clock, listener) = Create(TimeSource.Ntp);
        using var _ = listener;
        listener.OnGpsTime(time.GetUtcNow().AddMilliseconds(-300), time.GetUtcNow());
        Assert.Equal(TimeSource.Gps, clock.Source);

        time.Advance(Hold - TimeSpan.FromMilliseconds(1)); // the GPS went silent (unplugged, gpsd stopped)
        Assert.Equal(TimeSource.Gps, clock.Source);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSource.Ntp, clock.Source); // back to what the clock had before, not Unsynced
        Assert.Equal(TimeSource.Ntp, clock.Now().Source);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(TimeSource.Ntp, clock.Source);
        listener.OnGpsTime(time.GetUtcNow(), time.GetUtcNow()); // plugged back in
        Assert.Equal(TimeSource.Gps, clock.Source);
        time.Advance(Hold);
        Assert.Equal(TimeSource.Ntp, clock.Source);
    }

    [Fact]
    public void Gps_time_claim_holds_while_agreeing_times_keep_arriving_and_ends_hold_time_after_the_last()
    {
        var (time, clock, listener) = Create(TimeSource.Unsynced);
        using var _ = listener;
        for (var i = 0; i < 30; i++)
        {
            listener.OnGpsTime(time.GetUtcNow(), time.GetUtcNow());
            time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal(TimeSource.Gps, clock.Source);
        }

        // The last agreeing time was 1 s ago: the claim ends 10 s after it, not 10 s after the first.
        time.Advance(Hold - TimeSpan.FromSeconds(1) - TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSource.Gps, clock.Source);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSource.Unsynced, clock.Source);
    }

    [Fact]
    public void Disagreeing_gps_time_ends_the_claim_at_once_and_a_source_set_meanwhile_is_kept()
    {
        var (time, clock, listener) = Create(TimeSource.Unsynced);
        using var _ = listener;
        listener.OnGpsTime(time.GetUtcNow(), time.GetUtcNow());
        Assert.Equal(TimeSource.Gps, clock.Source);
        listener.OnGpsTime(time.GetUtcNow().AddSeconds(-30), time.GetUtcNow());
        Assert.Equal(TimeSource.Unsynced, clock.Source);

        clock.Source = TimeSource.Ntp; // chrony synchronised the clock in the meantime
        listener.OnGpsTime(time.GetUtcNow(), time.GetUtcNow());
        Assert.Equal(TimeSource.Gps, clock.Source);
        time.Advance(Hold);
        Assert.Equal(TimeSource.Ntp, clock.Source);
    }

    /// <summary>RMC + GGA for one epoch at <paramref name="at"/>; <paramref name="fix"/> false gives status V and quality 0.</summary>
    private static string Epoch(DateTimeOffset at, bool fix)
    {
        var hms = at.ToString("HHmmss.ff", CultureInfo.InvariantCulture);
        var date = at.ToString("ddMMyy", CultureInfo.InvariantCulture);
        return NmeaParserTests.Sentence($"GPRMC,{hms},{(fix ? 'A' : 'V')},4723.86614,N,00832.73883,E,0.0,0.0,{date},,,{(fix ? 'A' : 'N')}") + "\r\n"
            + NmeaParserTests.Sentence($"GPGGA,{hms},4723.86614,N,00832.73883,E,{(fix ? 1 : 0)},08,0.94,488.5,M,47.4,M,,") + "\r\n";
    }

    /// <summary>
    /// The whole path a receiver's epochs take (NMEA driver on an in-memory pipe, recorder, listener, clock):
    /// records say gps while the fix holds, keep saying it for the hold time after the fix is lost (RMC status V),
    /// then say ntp, and say gps again once the fix is back.
    /// </summary>
    [Fact]
    public async Task Records_stop_claiming_gps_time_after_the_fix_is_lost_and_claim_it_again_when_it_returns()
    {
        using var logs = new TestLoggerProvider(output);
        using var loggers = logs.CreateFactory();
        var (time, clock, listener) = Create(TimeSource.Ntp, loggers.CreateLogger<WallClockGpsTimeListener>());
        using var _ = listener;
        var registry = new SensorRegistry(time, Hold);
        var intake = new RecordIntake(1000);
        using var metrics = new SensorMetrics();
        var recorder = new SensorRecorder(registry.Add("gps0", "nmea", "pipe"), 0, intake, clock, time, metrics, listener,
            logs.CreateLogger("test"));
        var pipe = new Pipe();
        var run = Task.Run(() => new NmeaGpsDriver().RunAsync(pipe.Reader.AsStream(), recorder, CancellationToken.None));
        var records = new List<TelemetryRecord>();

        async Task<TelemetryRecord> Send(bool fix)
        {
            await pipe.Writer.WriteAsync(Encoding.ASCII.GetBytes(Epoch(time.GetUtcNow(), fix))).WithTimeout();
            var record = await intake.Reader.ReadAsync().AsTask().WithTimeout();
            records.Add(record);
            time.Advance(TimeSpan.FromSeconds(1));
            return record;
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(TimeSource.Gps, (await Send(fix: true)).TimeSource);
        }

        // Fix lost at t=3 s; the last agreeing GPS time was at t=2 s, so the claim ends at t=12 s.
        var lost = new List<TimeSource>();
        for (var i = 0; i < 12; i++)
        {
            lost.Add((await Send(fix: false)).TimeSource);
        }

        Assert.Equal([.. Enumerable.Repeat(TimeSource.Gps, 9), .. Enumerable.Repeat(TimeSource.Ntp, 3)], lost);
        Assert.Equal(TimeSource.Ntp, clock.Source);
        Assert.Equal(TimeSource.Gps, (await Send(fix: true)).TimeSource);

        await pipe.Writer.CompleteAsync();
        await run.WithTimeout(); // the pipe ended: the driver returns
        Assert.Equal(16, registry.Find("gps0")!.Readings);
        Assert.Equal(0, registry.Find("gps0")!.Rejected);
        Assert.Contains(logs.Entries, e => e.Id.Id == 7012 && e.Message.Contains("'ntp' again", StringComparison.Ordinal));
    }
}
