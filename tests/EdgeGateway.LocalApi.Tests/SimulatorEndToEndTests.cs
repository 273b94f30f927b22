using System.Net;
using System.Net.WebSockets;
using EdgeGateway.Drones;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
using EdgeGateway.Time;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// The API over the real drone link (TelloFleet) against the Tello simulator over real UDP on loopback:
/// execute, status updates at the state rate, and the failsafe (hover, then land) on an injected clock.
/// </summary>
public sealed class SimulatorEndToEndTests(ITestOutputHelper output) : IAsyncLifetime
{
    private TelloSimulator _sim = null!;
    private TelloFleet _fleet = null!;
    private TestLoggerProvider _linkLogs = null!;

    public async Task InitializeAsync()
    {
        // A distinct 127.0.0.x per test run so parallel suites on this machine do not meet.
        var address = IPAddress.Parse($"127.0.0.{Random.Shared.Next(40, 250)}");
        var statePort = FreePort.Udp(IPAddress.Loopback);
        _sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = address,
            CommandPort = 0,
            StatePort = statePort,
            TimeScale = 10,
            // At TimeScale 10 the 15 s auto-land is 1.5 s of wall time: a stalled CI machine would see the drone land itself.
            AutoLandTimeout = Timeout.InfiniteTimeSpan,
            SerialNumber = "0TQDG7LOCALAPI" [..14],
        });
        await _sim.StartAsync().WithTimeout();
        _linkLogs = new TestLoggerProvider(output);
        _fleet = new TelloFleet(new DroneOptions
        {
            Items = [new DroneEndpointOptions { Id = "tello-1", Address = _sim.CommandEndPoint.ToString() }],
            LocalAddress = "127.0.0.1",
            CommandPort = 0,
            StatePort = statePort,
            // Auto-land is off in the simulator; the keepalive still runs, as in the field.
            KeepaliveInterval = TimeSpan.FromSeconds(0.5),
        }, new RecordIntake(10_000), new SystemWallClock(TimeProvider.System), TimeProvider.System, _linkLogs.CreateFactory());
        await _fleet.StartAsync().WithTimeout();
        await TaskTimeouts.Eventually(() => _fleet.Drones[0].Status.Connected, "the link reached the simulator and state flows");
    }

    public async Task DisposeAsync()
    {
        await _fleet.DisposeAsync();
        await _sim.DisposeAsync();
    }

    [Fact]
    public async Task Execute_flies_the_simulated_drone_over_udp()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("connected").GetBoolean());
        Assert.Equal(100, body.GetProperty("battery").GetInt32());

        (status, body) = await host.ExecuteAsync("takeoff");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean(), body.ToString());
        Assert.True(_sim.Snapshot.IsFlying);

        (status, body) = await host.ExecuteAsync("drone_move_up", new { distance = 50 });
        Assert.Equal(HttpStatusCode.OK, status);
        (status, body) = await host.ExecuteAsync("rotate_clockwise", new { angle = 90 });
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(90, _sim.Snapshot.YawDeg);

        (status, body) = await host.ExecuteAsync("get_battery");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("data").GetProperty("battery").GetDouble() > 0);

        (status, body) = await host.ExecuteAsync("move_up", new { distance = 600 });
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("out_of_range", body.GetProperty("code").GetString());
        Assert.DoesNotContain(_sim.ReceivedCommands, c => c.StartsWith("up 6", StringComparison.Ordinal));

        (status, _) = await host.ExecuteAsync("land");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(_sim.Snapshot.IsFlying);
    }

    [Fact]
    public async Task Status_updates_arrive_at_the_drone_state_rate()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        using var ws = await host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await ws.ReceiveTypeAsync("subscribed");
        await ws.ReceiveTypeAsync("status_update");

        // Measured against what the simulator itself sent in the same window, not against wall time: a stalled machine
        // sends fewer datagrams, and the gateway must forward (nearly) every one it received.
        var sentBefore = _sim.Snapshot.StateDatagramsSent;
        var window = Deadline.In(TimeSpan.FromSeconds(2));
        var count = 0;
        var lastUpdate = DateTimeOffset.MinValue;
        while (!window.Passed)
        {
            var m = await ws.ReceiveAsync();
            if (m.GetProperty("type").GetString() == "status_update")
            {
                count++;
                var data = m.GetProperty("data");
                Assert.True(data.GetProperty("connected").GetBoolean());
                Assert.Equal("tello-1", m.GetProperty("drone_id").GetString());
                var at = data.GetProperty("last_update").GetDateTimeOffset();
                Assert.True(at >= lastUpdate, "updates arrive in order");
                lastUpdate = at;
            }
        }

        var sent = _sim.Snapshot.StateDatagramsSent - sentBefore;
        output.WriteLine($"{count} status updates while the simulator sent {sent} state datagrams");
        Assert.True(sent >= 5, $"the simulator sent only {sent} datagrams in 2 s");
        // Latest-wins may merge a few under load; one datagram sent before the window may arrive inside it.
        Assert.InRange(count, sent / 2, sent + 2);
    }

    [Fact]
    public async Task Failsafe_hovers_then_lands_the_simulated_drone_when_the_pilot_disconnects()
    {
        var clock = new ManualTimeProvider();
        var settings = new Dictionary<string, string?>
        {
            ["LocalApi:Failsafe:PilotSilenceSeconds"] = "10",
            ["LocalApi:Failsafe:LandGraceSeconds"] = "8",
        };
        await using var host = await ApiHost.StartAsync(_fleet, output, settings, clock);
        using var watcher = await host.ConnectAsync();
        await watcher.SendAsync(new { type = "subscribe", channel = "events" });
        await watcher.ReceiveTypeAsync("subscribed");

        var pilot = await host.ConnectAsync();
        await pilot.SendAsync(new { type = "command", request_id = "up", action = "takeoff" });
        Assert.True((await pilot.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
        await TaskTimeouts.Eventually(() => _fleet.Drones[0].Status.IsFlying, "the link sees the drone airborne");

        await pilot.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "gone", CancellationToken.None).WithTimeout();
        pilot.Dispose();

        await TaskTimeouts.Eventually(() => _sim.ReceivedCommands.Contains("stop"), "the simulator received stop (hover)");
        var hover = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "failsafe");
        Assert.Equal("hover", hover.GetProperty("action").GetString());
        Assert.True(_sim.Snapshot.IsFlying, "hovering, not landed");

        clock.Advance(TimeSpan.FromSeconds(9));
        await TaskTimeouts.Eventually(() => !_sim.Snapshot.IsFlying, "the simulated drone landed after the grace period");
        Assert.Equal("land", _sim.Snapshot.LastLandingReason);
        var land = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "failsafe");
        Assert.Equal("land", land.GetProperty("action").GetString());
    }
}
