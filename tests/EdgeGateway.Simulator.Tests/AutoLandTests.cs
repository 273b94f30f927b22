using System.Diagnostics;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class AutoLandTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Idle_drone_auto_lands_15_seconds_after_the_last_command_and_any_command_resets_it()
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 1;
            o.AutoLandTimeout = TimeSpan.FromSeconds(15);
        }, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        h.Commander.Send("takeoff");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(100)).WithTimeout());

        clock.Advance(TimeSpan.FromSeconds(14));
        Assert.False(h.Simulator.Snapshot.IsMoving);
        Assert.True(h.Simulator.Snapshot.IsFlying);

        // A read, an rc and a keepalive each count as activity.
        foreach (var command in new[] { "battery?", "rc 0 0 0 0", "keepalive" })
        {
            var before = h.Simulator.Snapshot.CommandsReceived;
            h.Commander.Send(command);
            await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.CommandsReceived > before, $"{command} received");
            clock.Advance(TimeSpan.FromSeconds(14));
            await h.Commander.TryReplyAsync(TimeSpan.FromMilliseconds(20));
            Assert.True(h.Simulator.Snapshot.IsFlying, $"still flying 14 s after {command}");
            Assert.False(h.Simulator.Snapshot.IsMoving, $"not landing 14 s after {command}");
        }

        clock.Advance(TimeSpan.FromSeconds(1.2));
        Assert.True(h.Simulator.Snapshot.IsMoving, "landing 15 s after the last command");
        Assert.Null(h.Simulator.Snapshot.LastLandingReason);
        clock.Advance(TimeSpan.FromSeconds(3));
        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.IsFlying, "landed 2 s after the auto-land began");
        var s = h.Simulator.Snapshot;
        Assert.False(s.IsFlying);
        Assert.Equal(0, s.HeightCm);
        Assert.Equal("auto-land", s.LastLandingReason);
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(200));   // an auto-land sends nothing
    }

    [Fact]
    public async Task Auto_land_time_is_scaled_on_the_real_clock()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.AutoLandTimeout = TimeSpan.FromSeconds(15));
        await h.TakeOffAsync();
        var clock = Stopwatch.StartNew();
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.LastLandingReason == "auto-land", "auto-land within 15 s / 20");
        // 15 s / 20 = 0.75 s of real idle time, never less. Measured from the simulator's own stamps (end of the
        // takeoff to the start of the landing), so a loaded machine cannot shrink it; only make it later.
        var idle = h.Simulator.LastOwnLandingIdle;
        Assert.NotNull(idle);
        Assert.True(idle >= TimeSpan.FromMilliseconds(749), $"auto-land began after {idle} of idle time");
        // Scaled, not the unscaled 15 s: it came well before that on the real clock.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"auto-land took {clock.Elapsed}");
    }

    [Fact]
    public async Task An_infinite_auto_land_timeout_keeps_the_drone_in_the_air()
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 1;
            o.AutoLandTimeout = Timeout.InfiniteTimeSpan;
        }, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        h.Commander.Send("takeoff");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(100)).WithTimeout());
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.True(h.Simulator.Snapshot is { IsFlying: true, IsMoving: false, HeightCm: 80 });
    }
}
