using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// The rate limiter against a steady flood, and emergency bypassing it: "emergency is accepted from any pilot at
/// any time and bypasses all queues".
/// </summary>
public sealed class FloodAndEmergencyTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private static Dictionary<string, string?> Settings(bool tokens, params (string Key, string Value)[] limits)
    {
        var s = tokens ? ApiHost.TokenSettings() : new Dictionary<string, string?>();
        foreach (var (k, v) in limits)
        {
            s["LocalApi:Limits:" + k] = v;
        }

        return s;
    }

    [Fact]
    public async Task A_steady_flood_that_the_bucket_partly_admits_is_closed_with_1008_after_few_error_frames()
    {
        // Defaults: 20/s, burst 40, 40 refusals within 10 s close. At 200/s every tenth message is admitted, which
        // used to reset the refusal count, so the flood ran forever with an error frame each time.
        await using var host = await ApiHost.StartAsync(_fleet, output);
        using var ws = await host.ConnectAsync();
        var pongs = 0;
        var rateLimited = 0;
        var reader = Task.Run(async () =>
        {
            while (await ws.ReceiveOrCloseAsync(TimeSpan.FromSeconds(30)) is { } m)
            {
                switch (m.GetProperty("type").GetString())
                {
                    case "pong":
                        pongs++;
                        break;
                    case "error":
                        Assert.Equal("rate_limited", m.GetProperty("code").GetString());
                        rateLimited++;
                        break;
                }
            }
        });

        // Paced by elapsed time, not by a fixed delay: a slow machine sends in bigger steps at the same average rate.
        var sw = Stopwatch.StartNew();
        var sent = 0;
        try
        {
            while (!reader.IsCompleted && sw.Elapsed < TimeSpan.FromSeconds(5))
            {
                var due = (int)(sw.Elapsed.TotalSeconds * 200);
                while (sent < due && !reader.IsCompleted)
                {
                    await ws.SendAsync(new { type = "ping", timestamp = sent++ });
                }

                await Task.Delay(5);
            }
        }
        catch (Exception e) when (e is WebSocketException or InvalidOperationException)
        {
            // The server closed while we were sending.
        }

        await reader.WithTimeout();
        output.WriteLine($"sent {sent} in {sw.Elapsed.TotalSeconds:0.00} s; {pongs} pongs, {rateLimited} rate_limited errors; close {ws.CloseStatus}");
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ws.CloseStatus);
        Assert.InRange(rateLimited, 1, 2); // at most one per 10 s window; the test is shorter than that
        Assert.True(pongs >= 40, $"the burst was admitted ({pongs} pongs)");
        Assert.True(pongs < sent, "not everything was admitted");
    }

    [Fact]
    public async Task A_client_slightly_over_the_rate_gets_one_error_per_window_and_is_not_closed()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Settings(false, ("MessagesPerSecond", "10"), ("MessageBurst", "2"), ("FloodCloseAfter", "5"), ("FloodWindowSeconds", "10")), clock);
        using var ws = await host.ConnectAsync();
        // 3 refusals in each of three windows: never 5 within one window.
        for (var window = 0; window < 3; window++)
        {
            for (var i = 0; i < 5; i++)
            {
                await ws.SendAsync(new { type = "ping", timestamp = i });
            }

            // A pilot's emergency passes the limiter and is read after the pings: once its result is here, the server
            // has judged all five pings, so advancing the clock cannot refill the bucket under a ping still in flight.
            await ws.SendAsync(new { type = "command", request_id = $"w{window}", action = "emergency" });

            Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
            Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
            Assert.Equal("rate_limited", (await ws.ReceiveAsync()).GetProperty("code").GetString());
            var result = await ws.ReceiveAsync();
            Assert.Equal("command_result", result.GetProperty("type").GetString());
            Assert.Equal($"w{window}", result.GetProperty("request_id").GetString());
            clock.Advance(TimeSpan.FromSeconds(11)); // refills the bucket and moves past the window
        }

        await ws.SendAsync(new { type = "ping", timestamp = 99 });
        Assert.Equal(99, (await ws.ReceiveAsync()).GetProperty("timestamp").GetInt32());
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
    }

    [Fact]
    public async Task Emergency_from_a_rate_limited_pilot_reaches_the_drone_and_gets_its_result()
    {
        var clock = new ManualTimeProvider(); // no refill: the pilot stays over the rate
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Settings(false, ("MessagesPerSecond", "5"), ("MessageBurst", "3"), ("FloodCloseAfter", "1000")), clock);
        using var pilot = await host.ConnectAsync(); // loopback: trusted as pilot
        for (var i = 0; i < 6; i++)
        {
            await pilot.SendAsync(new { type = "ping", timestamp = i });
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("pong", (await pilot.ReceiveAsync()).GetProperty("type").GetString());
        }

        Assert.Equal("rate_limited", (await pilot.ReceiveAsync()).GetProperty("code").GetString());
        await pilot.SendAsync(new { type = "ping", timestamp = 7 }); // still refused
        await pilot.SendAsync(new { type = "command", request_id = "stop-now", action = "drone_emergency" });

        var result = await pilot.ReceiveAsync();
        Assert.Equal("command_result", result.GetProperty("type").GetString()); // the refused ping got nothing
        Assert.Equal("stop-now", result.GetProperty("request_id").GetString());
        Assert.True(result.GetProperty("success").GetBoolean(), result.ToString());
        Assert.Equal(["emergency"], _fleet[0].Sent);
    }

    [Fact]
    public async Task Emergency_from_a_rate_limited_observer_is_refused_like_any_message()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Settings(true, ("MessagesPerSecond", "5"), ("MessageBurst", "1"), ("FloodCloseAfter", "1000")), clock);
        using var observer = await host.ConnectAsync(ApiHost.ObserverToken);
        await observer.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await observer.ReceiveAsync()).GetProperty("type").GetString());
        await observer.SendAsync(new { type = "command", request_id = "e", action = "emergency" });
        Assert.Equal("rate_limited", (await observer.ReceiveAsync()).GetProperty("code").GetString());

        clock.Advance(TimeSpan.FromSeconds(1)); // refill: the next message is admitted
        await observer.SendAsync(new { type = "ping", timestamp = 2 });
        var next = await observer.ReceiveAsync();
        Assert.Equal("pong", next.GetProperty("type").GetString()); // no command_result came for the refused emergency
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Emergency_bypasses_the_per_connection_command_limit_and_a_drone_busy_with_a_move()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _fleet[0].Hold = hold;
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(false, ("MaxCommandsInFlight", "2")));
        using var pilot = await host.ConnectAsync();
        await pilot.SendAsync(new { type = "command", request_id = 1, action = "move_up", parameters = new { distance = 30 } });
        await pilot.SendAsync(new { type = "command", request_id = 2, action = "move_up", parameters = new { distance = 30 } });
        await pilot.SendAsync(new { type = "command", request_id = 3, action = "move_up", parameters = new { distance = 30 } });
        var refused = await pilot.ReceiveTypeAsync("error");
        Assert.Equal("too_many_commands", refused.GetProperty("code").GetString());
        Assert.Equal(3, refused.GetProperty("request_id").GetInt32());

        await pilot.SendAsync(new { type = "command", request_id = "e", action = "emergency" });
        var emergency = await pilot.ReceiveTypeAsync("command_result");
        Assert.Equal("e", emergency.GetProperty("request_id").GetString());
        Assert.True(emergency.GetProperty("success").GetBoolean());

        hold.SetResult();
        var ids = new HashSet<int>();
        for (var i = 0; i < 2; i++)
        {
            ids.Add((await pilot.ReceiveTypeAsync("command_result")).GetProperty("request_id").GetInt32());
        }

        Assert.Equal([1, 2], ids.Order());
        Assert.Equal(["up 30", "up 30", "emergency"], _fleet[0].Sent.OrderBy(x => x == "emergency"));
    }

    [Fact]
    public async Task Emergency_sent_after_the_server_requested_a_close_is_still_honoured()
    {
        // Decision: while the socket is still readable (the server sent its close frame, the client has not answered
        // yet), an emergency from a pilot reaches the drone. Its result cannot be delivered; the audit event is published.
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Settings(false, ("MessagesPerSecond", "5"), ("MessageBurst", "1"), ("FloodCloseAfter", "3")), clock);
        using var watcher = await host.ConnectAsync();
        await watcher.SendAsync(new { type = "subscribe", channel = "events" });
        await watcher.ReceiveTypeAsync("subscribed");

        using var pilot = await host.ConnectAsync();
        for (var i = 0; i < 4; i++)
        {
            await pilot.SendAsync(new { type = "ping", timestamp = i });
        }

        // Read raw frames up to the server's close, without answering it.
        var buffer = new byte[4096];
        while (true)
        {
            var r = await pilot.Socket.ReceiveAsync(buffer, CancellationToken.None).WithTimeout();
            if (r.MessageType == WebSocketMessageType.Close)
            {
                break;
            }
        }

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, pilot.CloseStatus);
        Assert.Equal(WebSocketState.CloseReceived, pilot.Socket.State);
        await pilot.Socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"command\",\"action\":\"emergency\"}"), WebSocketMessageType.Text, true,
            CancellationToken.None).WithTimeout();
        await pilot.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WithTimeout();

        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("emergency"), "the emergency reached the drone");
        var audit = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "command");
        Assert.Equal("emergency", audit.GetProperty("action").GetString());
        Assert.Equal("ok", audit.GetProperty("outcome").GetString());
    }

    [Fact]
    public async Task A_flight_command_sent_after_the_server_requested_a_close_is_ignored()
    {
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Settings(false, ("MessagesPerSecond", "5"), ("MessageBurst", "1"), ("FloodCloseAfter", "2")), clock);
        using var pilot = await host.ConnectAsync();
        for (var i = 0; i < 3; i++)
        {
            await pilot.SendAsync(new { type = "ping", timestamp = i });
        }

        var buffer = new byte[4096];
        while ((await pilot.Socket.ReceiveAsync(buffer, CancellationToken.None).WithTimeout()).MessageType != WebSocketMessageType.Close)
        {
        }

        await pilot.Socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"command\",\"action\":\"takeoff\"}"), WebSocketMessageType.Text, true,
            CancellationToken.None).WithTimeout();
        await pilot.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WithTimeout();
        // The server read the takeoff before the client's close, which ended the session.
        var hub = host.Services.GetRequiredService<LocalHub>();
        await TaskTimeouts.Eventually(() => hub.ConnectionCount == 0, "the session ended");
        Assert.Empty(_fleet[0].Sent); // a takeoff (not an emergency) after the close was requested never reaches the drone
    }
}
