using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>Abuse closes with the right code; a slow client never delays the others.</summary>
public sealed class LimitsTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private static Dictionary<string, string?> Limits(params (string Key, string Value)[] limits)
    {
        var s = new Dictionary<string, string?>();
        foreach (var (k, v) in limits)
        {
            s["LocalApi:Limits:" + k] = v;
        }

        return s;
    }

    [Fact]
    public async Task One_connection_over_the_maximum_is_closed_with_1013_and_a_slot_frees_on_close()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("MaxConnections", "2")));
        using var a = await host.ConnectAsync();
        using var b = await host.ConnectAsync();
        using var c = await host.ConnectAsync(expectEstablished: false);
        Assert.Equal("too_many_connections", (await c.ReceiveAsync()).GetProperty("code").GetString());
        Assert.Equal((WebSocketCloseStatus)1013, await c.ReceiveCloseAsync());

        await a.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WithTimeout();
        await TaskTimeouts.Eventually(() => host.Services.GetRequiredService<ILocalHub>().ConnectionCount == 1, "a's slot is free");
        using var d = await host.ConnectAsync();
        Assert.Equal("connection_established", d.Established.GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_oversize_message_closes_with_1009()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("MaxFrameBytes", "1024")));
        using var ws = await host.ConnectAsync();
        await ws.SendTextAsync("{\"type\":\"ping\",\"timestamp\":1,\"pad\":\"" + new string('x', 900) + "\"}"); // just under: fine
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
        await ws.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 5000) + "\"}");
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await ws.ReceiveCloseAsync());
    }

    [Fact]
    public async Task An_oversize_message_in_many_fragments_closes_with_1009()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("MaxFrameBytes", "1024")));
        using var ws = await host.ConnectAsync();
        var chunk = new byte[300];
        Array.Fill(chunk, (byte)'x');
        for (var i = 0; i < 5; i++)
        {
            await ws.Socket.SendAsync(chunk, WebSocketMessageType.Text, false, CancellationToken.None).WithTimeout();
        }

        await ws.Socket.SendAsync(chunk, WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout();
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, await ws.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_flood_gets_a_rate_limited_error_then_a_1008_close()
    {
        // The limiter runs on the injected clock: it stands still, so no token refills however slow this machine is.
        await using var host = await ApiHost.StartAsync(_fleet, output,
            Limits(("MessagesPerSecond", "5"), ("MessageBurst", "5"), ("FloodCloseAfter", "20")), new ManualTimeProvider());
        using var ws = await host.ConnectAsync();
        for (var i = 0; i < 60 && ws.Socket.State == WebSocketState.Open; i++)
        {
            try
            {
                await ws.SendAsync(new { type = "ping", timestamp = i });
            }
            catch (WebSocketException)
            {
                break; // the server closed while we were sending
            }
        }

        var pongs = 0;
        var errors = new List<string?>();
        while (await ws.ReceiveOrCloseAsync() is { } m)
        {
            var type = m.GetProperty("type").GetString();
            if (type == "pong")
            {
                pongs++;
            }
            else if (type == "error")
            {
                errors.Add(m.GetProperty("code").GetString());
            }
        }

        Assert.Equal(["rate_limited"], errors); // one error frame, not one per refused message
        Assert.Equal(5, pongs); // exactly the burst
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, ws.CloseStatus);
    }

    [Fact]
    public async Task A_client_within_the_rate_is_never_limited()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("MessagesPerSecond", "50"), ("MessageBurst", "10")));
        using var ws = await host.ConnectAsync();
        // 25 messages at about 20 per second: above the burst in total, below the rate.
        for (var i = 0; i < 25; i++)
        {
            await ws.SendAsync(new { type = "ping", timestamp = i });
            Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task An_idle_client_is_closed_after_the_idle_timeout()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("IdleTimeoutSeconds", "1")));
        using var quiet = await host.ConnectAsync();
        var started = Stopwatch.StartNew();
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await quiet.ReceiveCloseAsync());
        Assert.True(started.Elapsed >= TimeSpan.FromSeconds(0.9), $"closed too early: {started.Elapsed}");
    }

    [Fact]
    public async Task A_browser_origin_not_listed_is_refused_and_a_listed_one_is_accepted()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("AllowedOrigins:0", "http://dashboard.local:8080")));
        var request = host.Request(HttpMethod.Post, "/api/drone/execute", json: new { action = "takeoff" });
        request.Headers.Add("Origin", "http://evil.example");
        var (status, body) = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("origin_not_allowed", body.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);

        var evil = new ClientWebSocket();
        evil.Options.SetRequestHeader("Origin", "http://evil.example");
        var e = await Assert.ThrowsAsync<WebSocketException>(() => evil.ConnectAsync(host.WsUri(), CancellationToken.None).WithTimeout());
        Assert.Contains("403", e.Message);

        using var ok = await host.ConnectAsync(configure: o => o.SetRequestHeader("Origin", "http://dashboard.local:8080"));
        Assert.Equal("connection_established", ok.Established.GetProperty("type").GetString());
        var same = host.Request(HttpMethod.Get, "/api/drone/status");
        same.Headers.Add("Origin", $"http://{host.BaseAddress.Authority}");
        Assert.Equal(HttpStatusCode.OK, (await host.SendAsync(same)).Status);
    }

    [Fact]
    public async Task A_client_that_never_reads_does_not_delay_the_others_and_is_disconnected_and_counted()
    {
        // The slow-client sweep runs on the injected clock, so the stuck client stays connected (and stuck) for the
        // whole time the reader is measured, however slow this machine is; then the clock moves past the timeout.
        var clock = new ManualTimeProvider();
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("SlowClientTimeoutSeconds", "5"), ("SendQueueCapacity", "100000")), clock);
        var hub = host.Services.GetRequiredService<LocalHub>();
        // The stuck client subscribes, then never reads again.
        using var stuck = await host.ConnectAsync();
        await stuck.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await stuck.SendAsync(new { type = "subscribe", channel = "sensors" });
        using var reader = await host.ConnectAsync();
        await reader.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await reader.ReceiveTypeAsync("status_update");
        await TaskTimeouts.Eventually(() => hub.ConnectionCount == 2, "both connected");
        await Task.Delay(200); // let the stuck client's subscriptions land

        // Big sensor readings (distinct sources, so none supersedes another) fill the stuck client's socket buffers.
        var pad = new string('x', 60_000);
        for (var i = 0; i < 400; i++)
        {
            hub.Publish("sensors", "s" + i, new JsonObject { ["type"] = "sensor_reading", ["pad"] = pad });
        }

        var worst = TimeSpan.Zero;
        for (var i = 1; i <= 50; i++)
        {
            var sw = Stopwatch.StartNew();
            _fleet[0].RaiseState(FakeDroneLink.State(80, i));
            var update = await reader.ReceiveTypeAsync("status_update");
            worst = TimeSpan.FromTicks(Math.Max(worst.Ticks, sw.Elapsed.Ticks));
            Assert.Equal(i, update.GetProperty("data").GetProperty("height_cm").GetInt32());
        }

        output.WriteLine($"worst update latency for the reading client: {worst.TotalMilliseconds:0.0} ms");
        // Structural: the reader got all 50 updates, in order, while the stuck client was still connected and stuck
        // in a send (it could not have been got out of the way first).
        Assert.Equal(0, hub.SlowDisconnects);
        Assert.Equal(2, hub.ConnectionCount);
        Assert.True(worst < TimeSpan.FromSeconds(5), $"the reading client waited {worst.TotalMilliseconds} ms");

        clock.Advance(TimeSpan.FromSeconds(7));
        await TaskTimeouts.Eventually(() => hub.SlowDisconnects == 1 && hub.ConnectionCount == 1,
            "the stuck client was disconnected as a slow consumer and counted");
        Assert.Equal(WebSocketState.Open, reader.Socket.State);
    }

    [Fact]
    public async Task A_client_whose_queue_overflows_is_closed_with_1013()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Limits(("SendQueueCapacity", "4"), ("SlowClientTimeoutSeconds", "60")));
        var hub = host.Services.GetRequiredService<LocalHub>();
        using var stuck = await host.ConnectAsync();
        await stuck.SendAsync(new { type = "subscribe", channel = "events" });
        await stuck.ReceiveTypeAsync("subscribed");
        var pad = new string('y', 200_000);
        for (var i = 0; i < 200; i++)
        {
            hub.PublishEvent("tello-1", "warning", ("message", pad));
        }

        // Drain: the close arrives once the writer gets past what the socket already holds.
        WebSocketCloseStatus? status = null;
        while (await stuck.ReceiveOrCloseAsync(TimeSpan.FromSeconds(30)) is not null)
        {
        }

        status = stuck.CloseStatus;
        Assert.Equal((WebSocketCloseStatus)1013, status);
        await TaskTimeouts.Eventually(() => hub.SlowDisconnects == 1, "counted as a slow consumer");
    }
}
