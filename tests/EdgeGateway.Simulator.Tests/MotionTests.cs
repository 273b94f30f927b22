using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class MotionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Moves_change_position_height_and_yaw()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("forward 100"));
        Assert.Equal("ok", await h.Commander.AskAsync("cw 90"));
        Assert.Equal("ok", await h.Commander.AskAsync("forward 50"));   // now facing east: y grows
        Assert.Equal("ok", await h.Commander.AskAsync("up 40"));
        Assert.Equal("ok", await h.Commander.AskAsync("left 30"));      // facing east, left is north
        var s = h.Simulator.Snapshot;
        Assert.Equal(130, s.XCm, 3);
        Assert.Equal(50, s.YCm, 3);
        Assert.Equal(120, s.HeightCm);
        Assert.Equal(90, s.YawDeg);
        Assert.Equal("ok", await h.Commander.AskAsync("ccw 180"));
        Assert.Equal(-90, h.Simulator.Snapshot.YawDeg);
        Assert.Equal("ok", await h.Commander.AskAsync("go 100 0 -50 50"));     // forward (west) 100, down 50
        s = h.Simulator.Snapshot;
        Assert.Equal(130, s.XCm, 3);
        Assert.Equal(-50, s.YCm, 3);
        Assert.Equal(70, s.HeightCm);
        Assert.Equal("ok", await h.Commander.AskAsync("curve 100 100 0 200 0 0 50"));
        Assert.Equal(-250, h.Simulator.Snapshot.YCm, 3);
        Assert.Equal("ok", await h.Commander.AskAsync("flip b"));
        Assert.Equal("ok", await h.Commander.AskAsync("land"));
        Assert.Equal(0, h.Simulator.Snapshot.HeightCm);
    }

    [Theory]
    [InlineData(4, 500)]
    [InlineData(40, 50)]
    public async Task Latencies_are_divided_by_the_time_scale(double scale, int expectedMs)
    {
        // forward 100 is 2 s of drone time; measured on a virtual clock so a loaded machine cannot skew it.
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o => o.TimeScale = scale, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(1)).WithTimeout());
        h.Commander.Send("takeoff");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "takeoff started");
        Assert.Equal("ok", await AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());

        h.Commander.Send("forward 100");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move started");
        clock.Advance(TimeSpan.FromMilliseconds(expectedMs * 0.9));
        Assert.Null(await h.Commander.TryReplyAsync(TimeSpan.FromMilliseconds(100)));
        clock.Advance(TimeSpan.FromMilliseconds(expectedMs * 0.2));
        Assert.Equal("ok", await h.Commander.ReplyAsync());
    }

    [Fact]
    public async Task Takeoff_takes_3_to_8_drone_seconds_on_a_virtual_clock()
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o => o.TimeScale = 1, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        h.Commander.Send("takeoff");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "takeoff started");
        var advanced = TimeSpan.Zero;
        string? reply = null;
        while (reply is null)
        {
            clock.Advance(TimeSpan.FromMilliseconds(100));
            advanced += TimeSpan.FromMilliseconds(100);
            reply = await h.Commander.TryReplyAsync(TimeSpan.FromMilliseconds(5));
            Assert.True(advanced < TimeSpan.FromSeconds(15), "no takeoff reply within 15 virtual seconds");
        }

        Assert.Equal("ok", reply);
        Assert.InRange(advanced, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(10));
        Assert.Equal(80, h.Simulator.Snapshot.HeightCm);
    }

    internal static async Task<string> AdvanceUntilReplyAsync(SimulatorHarness h, ManualTimeProvider clock, TimeSpan step)
    {
        while (true)
        {
            clock.Advance(step);
            if (await h.Commander.TryReplyAsync(TimeSpan.FromMilliseconds(5)) is { } reply)
            {
                return reply;
            }
        }
    }

    [Fact]
    public async Task Stop_during_a_move_gives_forced_stop_then_ok_and_the_drone_hovers_where_it_is()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 10"));
        h.Commander.Send("forward 500");                     // 51 drone seconds, about 1.3 s here
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.XCm > 1, "the move is under way");
        h.Commander.Send("stop");
        Assert.Equal("forced stop", await h.Commander.ReplyAsync());
        Assert.Equal("ok", await h.Commander.ReplyAsync());
        var s = h.Simulator.Snapshot;
        Assert.False(s.IsMoving);
        Assert.True(s.IsFlying);
        Assert.InRange(s.XCm, 1, 499);
        await Task.Delay(200);
        Assert.Equal(s.XCm, h.Simulator.Snapshot.XCm);
    }

    [Fact]
    public async Task Emergency_gets_no_reply_and_drops_the_drone_to_the_ground()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 10"));
        h.Commander.Send("forward 500");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        h.Commander.Send("emergency");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(500));
        var s = h.Simulator.Snapshot;
        Assert.False(s.IsFlying);
        Assert.False(s.IsMoving);
        Assert.Equal(0, s.HeightCm);
        Assert.Equal("emergency", s.LastLandingReason);
        h.Commander.DrainState();
        var state = TelloCommander.ParseState(System.Text.Encoding.ASCII.GetString((await h.Commander.ReceiveStateAsync()).Buffer));
        Assert.Equal("0", state["h"]);
        Assert.Equal("error Motor stop", await h.Commander.AskAsync("forward 50"));
    }

    [Fact]
    public async Task Rc_gets_no_reply_moves_the_drone_and_is_recorded()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        h.Commander.Send("rc 0 100 0 0");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.XCm > 50, "rc pitch moves the drone forward");
        h.Commander.Send("rc 0 0 0 0");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(300));
        var x = h.Simulator.Snapshot.XCm;
        await Task.Delay(200);
        Assert.Equal(x, h.Simulator.Snapshot.XCm);
        Assert.Equal("out of range", await h.Commander.AskAsync("rc 0 0 0 101"));
        Assert.Matches("^[0-9]+$", await h.Commander.AskAsync("battery?"));     // the next reply is this command's
        Assert.Contains("rc 0 100 0 0", h.Simulator.ReceivedCommands);
        Assert.Contains("rc 0 0 0 0", h.Simulator.ReceivedCommands);
    }

    [Theory]
    [InlineData(BusyBehaviour.Error, "error")]
    [InlineData(BusyBehaviour.NotJoystick, "error Not joystick")]
    public async Task A_command_during_a_move_is_refused_at_once_when_so_configured(BusyBehaviour busy, string refusal)
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.WhileBusy = busy);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 20"));
        h.Commander.Send("forward 300");                       // 16 drone seconds, 0.4 s here
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        Assert.Equal(refusal, await h.Commander.AskAsync("up 50"));
        Assert.Equal("ok", await h.Commander.ReplyAsync());
        Assert.Equal(80, h.Simulator.Snapshot.HeightCm);
        Assert.Equal(300, h.Simulator.Snapshot.XCm, 3);
    }

    [Fact]
    public async Task A_command_during_a_move_is_dropped_when_so_configured()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.WhileBusy = BusyBehaviour.Drop);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 20"));
        h.Commander.Send("forward 300");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        h.Commander.Send("up 50");
        Assert.Equal("ok", await h.Commander.ReplyAsync());
        Assert.Equal(80, h.Simulator.Snapshot.HeightCm);
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(250));
        Assert.Contains(h.Simulator.InjectedFaults, f => f.Contains("busy-drop up 50", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_command_during_a_move_runs_after_it_when_queued()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.WhileBusy = BusyBehaviour.Queue);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 20"));
        h.Commander.Send("forward 300");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        h.Commander.Send("up 50");
        h.Commander.Send("height?");
        Assert.Equal("ok", await h.Commander.ReplyAsync());
        Assert.Equal("ok", await h.Commander.ReplyAsync());
        Assert.Equal("13dm", await h.Commander.ReplyAsync());
    }

    [Fact]
    public async Task Battery_drains_in_flight_and_time_counts_on_a_virtual_clock()
    {
        var clock = new ManualTimeProvider();
        await using var h = await SimulatorHarness.StartAsync(output, o => o.TimeScale = 1, clock);
        h.Commander.Send("command");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(100, h.Simulator.Snapshot.Battery);             // no drain on the ground
        h.Commander.Send("takeoff");
        Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(100)).WithTimeout());
        for (var i = 0; i < 10; i++)
        {
            h.Commander.Send("keepalive");                           // keeps auto-land away
            Assert.Equal("ok", await MotionTests.AdvanceUntilReplyAsync(h, clock, TimeSpan.FromMilliseconds(10)).WithTimeout());
            clock.Advance(TimeSpan.FromSeconds(10));
        }

        var s = h.Simulator.Snapshot;
        Assert.True(s.IsFlying);
        Assert.InRange(s.Battery, 80, 90);                           // about 14 % in 100 s
        Assert.InRange(s.FlightTimeS, 100, 112);
    }

    [Fact]
    public async Task Battery_cliff_in_flight_lands_and_the_running_move_replies_auto_land()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 10"));
        h.Commander.Send("forward 500");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        h.Simulator.SetBattery(4);
        Assert.Equal("error Auto land", await h.Commander.ReplyAsync());
        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.IsFlying, "the drone lands by itself");
        Assert.Equal("battery", h.Simulator.Snapshot.LastLandingReason);
        Assert.Equal(0, h.Simulator.Snapshot.HeightCm);
        Assert.Equal("error", await h.Commander.AskAsync("takeoff"));
    }
}
