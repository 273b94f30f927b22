using System.Diagnostics;
using System.Net;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class SdkModeAndStateTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Before_command_the_drone_is_silent_and_sends_no_state()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        h.Commander.Send("battery?");
        h.Commander.Send("takeoff");
        await h.Commander.ExpectSilenceAsync(TimeSpan.FromMilliseconds(400));
        await h.Commander.ExpectNoStateAsync(TimeSpan.FromMilliseconds(400));
        Assert.False(h.Simulator.Snapshot.InSdkMode);
        Assert.False(h.Simulator.Snapshot.IsFlying);
        Assert.Equal(["battery?", "takeoff"], h.Simulator.ReceivedCommands);
    }

    [Fact]
    public async Task Before_command_an_unactivated_drone_replies_error_when_configured()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.ErrorBeforeSdkMode = true);
        Assert.Equal("error", await h.Commander.AskAsync("battery?"));
        Assert.Equal("error", await h.Commander.AskAsync("takeoff"));
        Assert.False(h.Simulator.Snapshot.IsFlying);
        await h.Commander.ExpectNoStateAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal("100", await h.Commander.AskAsync("battery?"));
    }

    [Fact]
    public async Task Replies_come_from_the_drone_command_endpoint_to_the_sender_port()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        h.Commander.Send("command");
        var reply = await h.Commander.ReceiveReplyAsync();
        Assert.Equal("ok", Encoding.ASCII.GetString(reply.Buffer));
        Assert.Equal(h.Simulator.CommandEndPoint, reply.RemoteEndPoint);
        Assert.Equal(IPAddress.Parse("127.0.0.2"), reply.RemoteEndPoint.Address);
    }

    [Theory]
    [InlineData(TelloSdkFormat.Sdk13)]
    [InlineData(TelloSdkFormat.Sdk20)]
    [InlineData(TelloSdkFormat.Sdk30)]
    public async Task State_starts_after_command_from_the_drone_address_at_about_10_Hz(TelloSdkFormat format)
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.Format = format);
        await h.Commander.ExpectNoStateAsync(TimeSpan.FromMilliseconds(300));
        Assert.Equal("ok", await h.Commander.AskAsync("command"));

        var first = await h.Commander.ReceiveStateAsync();
        // Time from a fresh datagram: one that queued while this thread was descheduled would shorten the span.
        h.Commander.DrainState();
        await h.Commander.ReceiveStateAsync();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 10; i++)
        {
            var next = await h.Commander.ReceiveStateAsync();
            Assert.Equal(IPAddress.Parse("127.0.0.2"), next.RemoteEndPoint.Address);
        }

        // Ten more periods of 100 ms: never faster; slower only when the machine is loaded.
        Assert.InRange(clock.Elapsed, TimeSpan.FromMilliseconds(800), TimeSpan.FromSeconds(4));
        Assert.Equal(IPAddress.Parse("127.0.0.2"), first.RemoteEndPoint.Address);

        var text = Encoding.ASCII.GetString(first.Buffer);
        Assert.EndsWith(";\r\n", text);
        var state = TelloCommander.ParseState(text);
        switch (format)
        {
            case TelloSdkFormat.Sdk13:
                Assert.StartsWith("pitch:", text);
                Assert.DoesNotContain("mid", state.Keys);
                break;
            case TelloSdkFormat.Sdk20:
                Assert.StartsWith("mid:-1;x:0;y:0;z:0;mpry:0,0,0;pitch:", text);
                break;
            case TelloSdkFormat.Sdk30:
                Assert.StartsWith("mid:-2;x:-200;y:-200;z:-200;mpry:0,0,0;pitch:", text);
                break;
        }

        Assert.Equal("10", state["tof"]);
        Assert.Equal("0", state["h"]);
        Assert.Equal("100", state["bat"]);
        Assert.Equal("0", state["time"]);
        Assert.InRange(double.Parse(state["agz"], System.Globalization.CultureInfo.InvariantCulture), -1010, -990);
        Assert.Matches(@"^-?\d+\.\d\d$", state["baro"]);
        Assert.Matches(@"^-?\d+\.\d\d$", state["agx"]);
        foreach (var key in new[] { "pitch", "roll", "yaw", "vgx", "vgy", "vgz", "templ", "temph" })
        {
            Assert.Matches(@"^-?\d+$", state[key]);
        }
    }

    [Fact]
    public async Task Sdk30_state_shows_pad_detection_on_but_nothing_seen_after_mon()
    {
        await using var h = await SimulatorHarness.StartAsync(output, o => o.Format = TelloSdkFormat.Sdk30);
        Assert.Equal("ok", await h.Commander.AskAsync("command"));
        Assert.Equal("ok", await h.Commander.AskAsync("mon"));
        h.Commander.DrainState();
        var text = Encoding.ASCII.GetString((await h.Commander.ReceiveStateAsync()).Buffer);
        Assert.StartsWith("mid:-1;x:-100;y:-100;z:-100;mpry:-1,-1,-1;", text);
    }

    [Fact]
    public async Task State_follows_the_flight_height_time_and_port_command()
    {
        await using var h = await SimulatorHarness.StartAsync(output);
        await h.TakeOffAsync();
        h.Commander.DrainState();
        var state = TelloCommander.ParseState(Encoding.ASCII.GetString((await h.Commander.ReceiveStateAsync()).Buffer));
        Assert.Equal("80", state["h"]);
        Assert.Equal("90", state["tof"]);
        Assert.True(int.Parse(state["time"], System.Globalization.CultureInfo.InvariantCulture) >= 3, "motor time counts during takeoff");

        // SDK 3.0 `port` moves the state stream to another port.
        using var other = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)other.Client.LocalEndPoint!).Port;
        Assert.Equal("ok", await h.Commander.AskAsync($"port {port} 11111"));
        var moved = await other.ReceiveAsync().WithTimeout();
        Assert.Equal(IPAddress.Parse("127.0.0.2"), moved.RemoteEndPoint.Address);
        Assert.Equal("out of range", await h.Commander.AskAsync("port 80 11111"));
    }
}
