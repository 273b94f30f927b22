using System.Net;
using System.Net.WebSockets;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>One pilot at a time; emergency from any pilot; failsafe on an injected clock (logic, with the in-memory drone).</summary>
public sealed class PilotControlTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"), new FakeDroneLink("tello-2"));

    private static Dictionary<string, string?> Settings(double silence = 10, double grace = 8)
    {
        var s = ApiHost.TokenSettings();
        s["LocalApi:Failsafe:PilotSilenceSeconds"] = silence.ToString(System.Globalization.CultureInfo.InvariantCulture);
        s["LocalApi:Failsafe:LandGraceSeconds"] = grace.ToString(System.Globalization.CultureInfo.InvariantCulture);
        s["LocalApi:Failsafe:CheckIntervalSeconds"] = "0.5";
        return s;
    }

    [Fact]
    public async Task Two_pilots_compete_the_second_gets_control_denied_until_the_first_releases()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: ApiHost.PilotToken)).Status);

        var (status, body) = await host.ExecuteAsync("move_left", new { distance = 50 }, token: ApiHost.Pilot2Token);
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal("control_denied", body.GetProperty("code").GetString());
        Assert.Equal("token:alice", body.GetProperty("data").GetProperty("holder").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await host.ExecuteAsync("take_control", token: ApiHost.Pilot2Token)).Status);

        // Control is per drone: bob may fly the other one.
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: ApiHost.Pilot2Token, droneId: "tello-2")).Status);

        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("release_control", token: ApiHost.PilotToken)).Status);
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("move_left", new { distance = 50 }, token: ApiHost.Pilot2Token)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await host.ExecuteAsync("land", token: ApiHost.PilotToken)).Status);
        Assert.Equal(["takeoff", "left 50"], _fleet[0].Sent);
    }

    [Fact]
    public async Task Two_pilots_on_websockets_take_control_explicitly_and_the_second_is_denied()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        using var alice = await host.ConnectAsync(ApiHost.PilotToken);
        using var bob = await host.ConnectAsync(ApiHost.Pilot2Token);

        await alice.SendAsync(new { type = "take_control", request_id = "t1" });
        var granted = await alice.ReceiveTypeAsync("control_granted");
        Assert.Equal("t1", granted.GetProperty("request_id").GetString());

        await bob.SendAsync(new { type = "take_control", request_id = "t2" });
        var denied = await bob.ReceiveAsync();
        Assert.Equal("error", denied.GetProperty("type").GetString());
        Assert.Equal("control_denied", denied.GetProperty("code").GetString());
        Assert.Equal("t2", denied.GetProperty("request_id").GetString());

        await bob.SendAsync(new { type = "command", request_id = "c", action = "takeoff" });
        Assert.Equal("control_denied", (await bob.ReceiveTypeAsync("command_result")).GetProperty("code").GetString());

        await alice.SendAsync(new { type = "release_control" });
        await alice.ReceiveTypeAsync("control_released");
        await bob.SendAsync(new { type = "command", request_id = "c2", action = "takeoff" });
        Assert.True((await bob.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
    }

    [Fact]
    public async Task Emergency_from_the_non_controlling_pilot_is_accepted_while_a_move_is_in_progress()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        using var alice = await host.ConnectAsync(ApiHost.PilotToken);
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _fleet[0].Hold = hold;
        await alice.SendAsync(new { type = "command", request_id = "long", action = "move_forward", parameters = new { distance = 500 } });
        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("forward 500"), "alice's move reached the drone");

        var (status, body) = await host.ExecuteAsync("emergency", token: ApiHost.Pilot2Token);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal(["forward 500", "emergency"], _fleet[0].Sent);

        using var bob = await host.ConnectAsync(ApiHost.Pilot2Token);
        await bob.SendAsync(new { type = "command", request_id = "e", action = "drone_emergency" });
        Assert.True((await bob.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
        hold.SetResult();
        Assert.Equal("long", (await alice.ReceiveTypeAsync("command_result")).GetProperty("request_id").GetString());
    }

    [Fact]
    public async Task Pilot_leaving_while_on_the_ground_just_releases_control()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(), clock);
        var alice = await host.ConnectAsync(ApiHost.PilotToken);
        await alice.SendAsync(new { type = "take_control" });
        await alice.ReceiveTypeAsync("control_granted");
        await alice.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WithTimeout();
        alice.Dispose();

        await TaskTimeouts.Eventually(() => host.ExecuteAsync("take_control", token: ApiHost.Pilot2Token).Result.Status == HttpStatusCode.OK,
            "bob can take control once alice is gone");
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Failsafe_pilot_socket_closed_while_airborne_hovers_announces_and_lands_after_the_grace_period()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(silence: 10, grace: 8), clock);
        using var watcher = await host.ConnectAsync(ApiHost.ObserverToken);
        await watcher.SendAsync(new { type = "subscribe", channel = "events" });
        await watcher.ReceiveTypeAsync("subscribed");
        var alice = await host.ConnectAsync(ApiHost.PilotToken);
        await alice.SendAsync(new { type = "command", request_id = 1, action = "takeoff" });
        await alice.ReceiveTypeAsync("command_result");
        Assert.True(_fleet[0].Status.IsFlying);

        await alice.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WithTimeout();
        alice.Dispose();

        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("stop"), "the failsafe sent stop (hover)");
        var hover = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "failsafe");
        Assert.Equal("hover", hover.GetProperty("action").GetString());
        Assert.Equal("token:alice", hover.GetProperty("pilot").GetString());

        clock.Advance(TimeSpan.FromSeconds(7));
        Assert.DoesNotContain("land", _fleet[0].Sent);
        clock.Advance(TimeSpan.FromSeconds(1.5));
        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("land"), "the failsafe landed after the grace period");
        var land = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "failsafe");
        Assert.Equal("land", land.GetProperty("action").GetString());
        Assert.Equal(["takeoff", "stop", "land"], _fleet[0].Sent);
        // The drone link's command audit names who asked: the pilot for the takeoff, the failsafe for the rest.
        Assert.Equal([("takeoff", "local-api:token:alice"), ("stop", "local-api:failsafe"), ("land", "local-api:failsafe")], _fleet[0].Origins);
    }

    [Fact]
    public async Task Failsafe_silent_pilot_hovers_and_a_pilot_taking_control_cancels_the_landing()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(silence: 10, grace: 8), clock);
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: ApiHost.PilotToken)).Status);

        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.DoesNotContain("stop", _fleet[0].Sent);
        clock.Advance(TimeSpan.FromSeconds(1.5));
        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("stop"), "the failsafe sent stop after 10 s of silence");

        var (status, _) = await host.ExecuteAsync("take_control", token: ApiHost.Pilot2Token);
        Assert.Equal(HttpStatusCode.OK, status);
        clock.Advance(TimeSpan.FromSeconds(9));
        Assert.DoesNotContain("land", _fleet[0].Sent);
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("move_up", new { distance = 20 }, token: ApiHost.Pilot2Token)).Status);
        Assert.Equal(["takeoff", "stop", "up 20"], _fleet[0].Sent);
    }

    [Fact]
    public async Task A_pilot_who_keeps_talking_keeps_control()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(silence: 10, grace: 8), clock);
        using var alice = await host.ConnectAsync(ApiHost.PilotToken);
        await alice.SendAsync(new { type = "command", request_id = 1, action = "takeoff" });
        await alice.ReceiveTypeAsync("command_result");
        for (var i = 0; i < 6; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(5));
            await alice.SendAsync(new { type = "ping", timestamp = i });
            await alice.ReceiveTypeAsync("pong");
        }

        Assert.Equal(["takeoff"], _fleet[0].Sent);
    }
}
