using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>Replies count only when they come from the drone's command endpoint (IP and port).</summary>
public sealed class SourcePortTests(ITestOutputHelper output)
{
    private static TelloCommand Speed(int s) =>
        TelloCommand.TrySpeed(s, out var c, out var e) ? c : throw new InvalidOperationException(e);

    [Fact]
    public async Task A_spoofed_error_from_the_drones_ip_on_another_port_is_ignored_and_the_real_reply_is_matched()
    {
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        var drone = h.Drone();
        var release = new TaskCompletionSource();
        fake.NextHeld("speed 50", release.Task, "ok");

        var pending = drone.ExecuteAsync(Speed(50));
        await TaskTimeouts.Eventually(() => fake.Count("speed 50") == 1, "speed 50 reaches the drone");

        // Same IP as the drone, another port: what a neighbour faking the drone's address would send.
        using var spoofer = new UdpClient(new IPEndPoint(fake.Address, 0));
        var fleetCommand = new IPEndPoint(IPAddress.Loopback, h.Fleet.CommandEndPoint!.Port);
        await spoofer.SendAsync(Encoding.ASCII.GetBytes("error"), fleetCommand).AsTask().WithTimeout();
        await TaskTimeouts.Eventually(() => h.Fleet.Counters.WrongPortReplies == 1, "the spoofed error is counted");
        Assert.False(pending.IsCompleted, "the spoofed error resolved the command");

        release.SetResult();
        var result = await pending.WithTimeout();

        Assert.Equal(DroneCommandOutcome.Ok, result.Outcome);
        Assert.Equal("ok", result.Reply);
        Assert.Equal(1, ((Tello.TelloLink)drone).WrongPortReplies);
        Assert.Equal(0, h.Fleet.Counters.StaleReplies);
        var health = new DroneHealthReporter(h.Fleet).Report().Single();
        Assert.Equal(1L, health.Details!["ignored_wrong_port_replies"]);
        Assert.Contains(h.Logs.Entries, e => e.Id.Id == 1032 && e.Message.Contains("127.0.0.2", StringComparison.Ordinal));
    }

    [Fact]
    public async Task State_from_the_drones_ip_is_accepted_from_any_port()
    {
        // The Tello sends state from its own choice of port; FakeTello's state socket has an ephemeral one.
        await using var fake = new FakeTello("127.0.0.2");
        await using var h = await FleetHarness.StartAsync(output, FleetHarness.Options(fake.AddressText), fake);
        Assert.Equal(DroneLinkHealth.Fresh, h.Drone().Status.Health);
        Assert.Equal(0, h.Fleet.Counters.WrongPortReplies);
    }
}
