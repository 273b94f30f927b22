using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class RebootTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Reboot_goes_silent_loses_sdk_mode_and_lands_then_comes_back()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.TimeScale = 10);
        await h.TakeOffAsync();
        await h.Commander.ReceiveStateAsync();

        h.Simulator.Reboot(TimeSpan.FromMilliseconds(800));
        var s = h.Simulator.Snapshot;
        Assert.True(s.Rebooting);
        Assert.False(s.InSdkMode);
        Assert.False(s.IsFlying);
        Assert.Equal(0, s.HeightCm);
        Assert.Equal("reboot", s.LastLandingReason);
        h.Commander.Send("command");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(200));
        await h.Commander.ExpectNoStateAsync(TimeSpan.FromMilliseconds(250));

        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.Rebooting, "back after the silence");
        // Back, but not in SDK mode until `command` again.
        h.Commander.Send("battery?");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(200));
        await h.Commander.ExpectNoStateAsync(TimeSpan.FromMilliseconds(250));
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        await h.Commander.ReceiveStateAsync();
        Assert.Equal("error Motor stop", await h.Commander.AskAsync("forward 50"));
    }

    [Fact]
    public async Task A_reply_due_during_a_reboot_is_never_sent()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        Assert.Equal("ok", await h.Commander.AskAsync("speed 10"));
        h.Commander.Send("forward 500");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.IsMoving, "the move is under way");
        h.Simulator.Reboot(TimeSpan.FromMilliseconds(100));
        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.Rebooting, "back after the silence");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(1500));
    }

    [Fact]
    public async Task Reboot_command_has_no_reply_and_reboots()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.RebootDuration = TimeSpan.FromSeconds(10));  // 0.5 s at 20x
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        h.Commander.Send("reboot");
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.Rebooting, "rebooting");
        Assert.False(h.Simulator.Snapshot.InSdkMode);
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(200));
        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.Rebooting, "back after the reboot");
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
    }

    [Theory]
    [InlineData("wifi myssid mypass")]
    [InlineData("ap myssid mypass")]
    public async Task Wifi_and_ap_reply_then_reboot_3_scaled_seconds_later(string command)
    {
        await using var h = await SimulatorHarness.StartAsync(output, o =>
        {
            o.TimeScale = 10;
            o.RebootDuration = TimeSpan.FromSeconds(5);
        });
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("OK,drone will reboot in 3s", await h.Commander.AskAsync(command));
        await TaskTimeouts.Eventually(() => h.Simulator.Snapshot.Rebooting, "rebooting after 3 s / 10");
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(270), $"rebooted after {clock.Elapsed}");
        Assert.False(h.Simulator.Snapshot.InSdkMode);
        await TaskTimeouts.Eventually(() => !h.Simulator.Snapshot.Rebooting, "back after 5 s / 10");
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
    }
}
