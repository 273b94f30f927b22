using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class ReplyTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Read_commands_reply_in_the_raw_formats_of_real_drones()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.SerialNumber = "0TQDG7BEDB0XYZ");
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal("0dm", await h.Commander.AskAsync("height?"));
        Assert.Equal("100mm", await h.Commander.AskAsync("tof?"));
        Assert.Equal("0s", await h.Commander.AskAsync("time?"));
        Assert.Equal("100.0", await h.Commander.AskAsync("speed?"));
        Assert.Equal("100", await h.Commander.AskAsync("battery?"));
        Assert.Equal("90", await h.Commander.AskAsync("wifi?"));
        Assert.Equal("20", await h.Commander.AskAsync("sdk?"));
        Assert.Equal("0TQDG7BEDB0XYZ", await h.Commander.AskAsync("sn?"));
        Assert.Matches(@"^\d+~\d+C$", await h.Commander.AskAsync("temp?"));
        Assert.Equal("pitch:0;roll:0;yaw:0;", await h.Commander.AskAsync("attitude?"));
        Assert.Matches(@"^agx:-?\d+\.\d\d;agy:-?\d+\.\d\d;agz:-?\d+\.\d\d;$", await h.Commander.AskAsync("acceleration?"));
        Assert.Matches(@"^-?\d+\.\d+$", await h.Commander.AskAsync("baro?"));
        Assert.Equal("TELLO", await h.Commander.AskAsync("hardware?"));

        await TakeOffFrom(h);
        Assert.Equal("8dm", await h.Commander.AskAsync("height?"));
        Assert.Equal("900mm", await h.Commander.AskAsync("tof?"));
        Assert.Matches(@"^[1-9]\d*s$", await h.Commander.AskAsync("time?"));
        Assert.Equal("ok", await h.Commander.AskAsync("speed 50"));
        Assert.Equal("50.0", await h.Commander.AskAsync("speed?"));
        Assert.Equal("ok", await h.Commander.AskAsync("cw 90"));
        Assert.Equal("pitch:0;roll:0;yaw:90;", await h.Commander.AskAsync("attitude?"));
    }

    private static async Task TakeOffFrom(SimulatorHarness h) => Assert.Equal("ok", await h.Commander.AskAsync("takeoff"));

    [Theory]
    [InlineData(TelloSdkFormat.Sdk13, "unknown command: sdk?")]
    [InlineData(TelloSdkFormat.Sdk30, "30")]
    public async Task Sdk_version_read_depends_on_the_format(TelloSdkFormat format, string expected)
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.Format = format);
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal(expected, await h.Commander.AskAsync("sdk?"));
    }

    [Theory]
    [InlineData("forward 19", "out of range")]
    [InlineData("forward 501", "out of range")]
    [InlineData("up 0", "out of range")]
    [InlineData("cw 361", "out of range")]
    [InlineData("ccw 0", "out of range")]
    [InlineData("go 10 10 10 50", "out of range")]
    [InlineData("go -20 20 0 50", "out of range")]
    [InlineData("go 600 0 0 50", "out of range")]
    [InlineData("go 100 0 0 5", "out of range")]
    [InlineData("curve 100 100 0 200 0 0 70", "out of range")]
    [InlineData("curve 10 0 0 20 0 0 30", "out of range")]
    [InlineData("curve 100 0 0 200 0 0 30", "error")]
    [InlineData("speed 5", "out of range")]
    [InlineData("speed 101", "out of range")]
    [InlineData("flip x", "out of range")]
    [InlineData("rc 0 0 0 101", "out of range")]
    [InlineData("rc -101 0 0 0", "out of range")]
    [InlineData("setbitrate 6", "out of range")]
    [InlineData("forward", "error")]
    [InlineData("forward ten", "error")]
    [InlineData("go 1 2", "error")]
    [InlineData("wifi onlyssid", "error")]
    [InlineData("flyaway", "unknown command: flyaway")]
    [InlineData("throwfly", "unknown command: throwfly")]
    [InlineData("Command", "unknown command: Command")]
    public async Task Bad_values_and_unknown_commands_get_the_drone_replies(string command, string expected)
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal(expected, await h.Commander.AskAsync(command));
        Assert.Equal(80, h.Simulator.Snapshot.HeightCm);
        Assert.Equal(0, h.Simulator.Snapshot.XCm, 3);
    }

    [Fact]
    public async Task Sdk13_allows_rotations_up_to_3600_degrees()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.Format = TelloSdkFormat.Sdk13);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("cw 720"));
        Assert.Equal("out of range", await h.Commander.AskAsync("cw 3601"));
    }

    [Theory]
    [InlineData("forward 50")]
    [InlineData("cw 90")]
    [InlineData("flip l")]
    [InlineData("go 100 0 0 50")]
    public async Task Motion_while_landed_replies_motor_stop(string command)
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal("error Motor stop", await h.Commander.AskAsync(command));
        Assert.Equal("error", await h.Commander.AskAsync("land"));
        Assert.False(h.Simulator.Snapshot.IsFlying);
    }

    [Fact]
    public async Task Takeoff_below_the_minimum_battery_replies_error_and_stays_down()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.InitialBattery = 9);
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal("error", await h.Commander.AskAsync("takeoff"));
        Assert.False(h.Simulator.Snapshot.IsFlying);
        h.Simulator.SetBattery(10);
        Assert.Equal("ok", await h.Commander.AskAsync("takeoff"));
        Assert.Equal("error", await h.Commander.AskAsync("takeoff"));
    }

    [Fact]
    public async Task Flip_at_low_battery_replies_error()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("flip f"));
        h.Simulator.SetBattery(40);
        Assert.Equal("error", await h.Commander.AskAsync("flip f"));
    }

    [Fact]
    public async Task Mission_pad_commands_fail_with_run_timeout_after_15_scaled_seconds()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("error Run timeout", await h.Commander.AskAsync("go 100 0 0 50 m1"));
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(15.0 / 20 * 0.9), $"replied after {clock.Elapsed}");
        Assert.Equal("error", await h.Commander.AskAsync("go 100 0 0 50 m9"));
    }

    [Fact]
    public async Task Keepalive_stream_and_set_commands_reply_ok()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        foreach (var command in new[] { "keepalive", "streamon", "streamoff", "mon", "moff", "mdirection 2", "downvision 1",
                     "setfps high", "setbitrate 3", "setresolution low", "speed 60", "motoron", "motoroff", "stop" })
        {
            Assert.Equal("ok", await h.Commander.AskAsync(command));
        }
    }
}
