using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>The MUST points of /ws (protocol-3002.md) and the new messages, with a real ClientWebSocket.</summary>
public sealed class WebSocketContractTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"), new FakeDroneLink("tello-2"));
    private ApiHost _host = null!;

    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(_fleet, output);

    public async Task DisposeAsync()
    {
        _host.Logs.AssertNoUnexpectedErrors();
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task First_frame_after_the_upgrade_is_connection_established()
    {
        using var ws = await _host.ConnectAsync(expectEstablished: false);
        var first = await ws.ReceiveAsync();
        Assert.Equal("connection_established", first.GetProperty("type").GetString());
        Assert.Equal("pilot", first.GetProperty("role").GetString()); // loopback is trusted by default
        Assert.Equal("tello-1", first.GetProperty("default_drone_id").GetString());
        Assert.Equal(["tello-1", "tello-2"], first.GetProperty("drone_ids").EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task Subscribe_is_confirmed_echoing_the_channel_then_status_updates_follow_every_new_state()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "status_updates" });
        var confirmation = await ws.ReceiveAsync();
        Assert.Equal("subscribed", confirmation.GetProperty("type").GetString());
        Assert.Equal("status_updates", confirmation.GetProperty("channel").GetString());
        Assert.Equal("tello-1", confirmation.GetProperty("drone_id").GetString());

        var current = await ws.ReceiveTypeAsync("status_update"); // the state at subscribe time
        Assert.Equal(87, current.GetProperty("data").GetProperty("battery").GetInt32());

        for (var i = 0; i < 5; i++)
        {
            _fleet[0].RaiseState(FakeDroneLink.State(battery: 90 - i, height: i * 10));
            var update = await ws.ReceiveAsync();
            Assert.Equal("status_update", update.GetProperty("type").GetString());
            Assert.Equal("tello-1", update.GetProperty("drone_id").GetString());
            var data = update.GetProperty("data");
            Assert.Equal(JsonValueKind.Object, data.ValueKind);
            Assert.True(data.GetProperty("connected").GetBoolean());
            Assert.Equal(90 - i, data.GetProperty("battery").GetInt32());
            Assert.Equal(i * 10, data.GetProperty("height_cm").GetInt32());
            Assert.Equal("tello-1", data.GetProperty("drone_id").GetString());
        }
    }

    [Fact]
    public async Task Subscription_with_drone_id_gets_only_that_drone_and_star_gets_all()
    {
        using var second = await _host.ConnectAsync();
        using var all = await _host.ConnectAsync();
        await second.SendAsync(new { type = "subscribe", channel = "status_updates", drone_id = "tello-2" });
        await second.ReceiveTypeAsync("subscribed");
        await second.ReceiveTypeAsync("status_update");
        await all.SendAsync(new { type = "subscribe", channel = "status_updates", drone_id = "*" });
        Assert.Equal("*", (await all.ReceiveTypeAsync("subscribed")).GetProperty("drone_id").GetString());
        await all.ReceiveTypeAsync("status_update");
        await all.ReceiveTypeAsync("status_update");

        _fleet[0].RaiseState(FakeDroneLink.State(70, 0));
        _fleet[1].RaiseState(FakeDroneLink.State(60, 0));

        Assert.Equal("tello-2", (await second.ReceiveTypeAsync("status_update")).GetProperty("drone_id").GetString());
        Assert.Equal("tello-1", (await all.ReceiveTypeAsync("status_update")).GetProperty("drone_id").GetString());
        Assert.Equal("tello-2", (await all.ReceiveTypeAsync("status_update")).GetProperty("drone_id").GetString());
        // Nothing from tello-1 reached the tello-2 subscriber: the next thing it sees is the pong.
        await second.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await second.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task Subscribing_to_an_unknown_channel_or_drone_gets_an_error_frame_with_code()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "weather" });
        var error = await ws.ReceiveAsync();
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("unknown_channel", error.GetProperty("code").GetString());
        Assert.Contains("weather", error.GetProperty("message").GetString());

        await ws.SendAsync(new { type = "subscribe", channel = "status_updates", drone_id = "tello-9" });
        Assert.Equal("unknown_drone", (await ws.ReceiveAsync()).GetProperty("code").GetString());

        await ws.SendAsync(new { type = "subscribe", channel = "status_updates", max_hz = -2 });
        Assert.Equal("invalid_parameter", (await ws.ReceiveAsync()).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Ping_gets_pong_echoing_the_timestamp_exactly()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendTextAsync("{\"type\":\"ping\",\"timestamp\":1732230000.123456}");
        var pong = await ws.ReceiveAsync();
        Assert.Equal("pong", pong.GetProperty("type").GetString());
        Assert.Equal("1732230000.123456", pong.GetProperty("timestamp").GetRawText());
    }

    [Theory]
    [InlineData("{not json", "invalid_json")]
    [InlineData("[1,2]", "invalid_json")]
    [InlineData("\"hello\"", "invalid_json")]
    [InlineData("{\"no_type\":1}", "invalid_request")]
    [InlineData("{\"type\":7}", "invalid_request")]
    [InlineData("{\"type\":\"teleport\"}", "unknown_type")]
    [InlineData("{\"type\":\"subscribe\"}", "invalid_request")]
    public async Task A_malformed_frame_gets_an_error_frame_and_the_connection_stays_open(string frame, string code)
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendTextAsync(frame);
        var error = await ws.ReceiveAsync();
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));

        await ws.SendAsync(new { type = "ping", timestamp = 5.5 });
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
    }

    [Fact]
    public async Task A_binary_frame_gets_an_error_frame_and_the_connection_stays_open()
    {
        using var ws = await _host.ConnectAsync();
        await ws.Socket.SendAsync(new byte[] { 1, 2, 3, 0xFF }, WebSocketMessageType.Binary, true, CancellationToken.None).WithTimeout();
        var error = await ws.ReceiveAsync();
        Assert.Equal("error", error.GetProperty("type").GetString());
        Assert.Equal("binary_not_supported", error.GetProperty("code").GetString());

        await ws.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task A_fragmented_text_message_is_reassembled()
    {
        using var ws = await _host.ConnectAsync();
        var bytes = Encoding.UTF8.GetBytes("{\"type\":\"ping\",\"timestamp\":42}");
        await ws.Socket.SendAsync(bytes.AsMemory(0, 10), WebSocketMessageType.Text, false, CancellationToken.None).AsTask().WithTimeout();
        await ws.Socket.SendAsync(bytes.AsMemory(10), WebSocketMessageType.Text, true, CancellationToken.None).AsTask().WithTimeout();
        Assert.Equal(42, (await ws.ReceiveAsync()).GetProperty("timestamp").GetInt32());
    }

    [Fact]
    public async Task Protocol_level_pings_from_the_client_are_answered()
    {
        // The client pings every 200 ms and aborts if a pong does not come back within 4 s (like aiohttp heartbeat).
        // The wait below is longer than that timeout, so a server that never answered would be caught; a stall of
        // several seconds on a loaded machine would be needed for a false failure.
        using var ws = await _host.ConnectAsync(configure: o =>
        {
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
            o.KeepAliveTimeout = TimeSpan.FromSeconds(4);
        });
        // Keep a receive pending (the client processes pongs while receiving), for many keepalive rounds.
        var receive = ws.ReceiveOrCloseAsync(TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.False(receive.IsCompleted, "the connection ended: " + (receive.IsFaulted ? receive.Exception!.InnerException!.Message : "closed"));
        Assert.Equal(WebSocketState.Open, ws.Socket.State);
        await ws.SendAsync(new { type = "ping", timestamp = 9 });
        Assert.Equal("pong", (await receive)!.Value.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Command_over_the_websocket_gets_command_result_with_the_same_request_id()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "command", request_id = "r-17", action = "drone_move_up", parameters = new { distance = 40 } });
        var result = await ws.ReceiveTypeAsync("command_result");
        Assert.Equal("r-17", result.GetProperty("request_id").GetString());
        Assert.True(result.GetProperty("success").GetBoolean());
        Assert.Equal("move_up", result.GetProperty("action").GetString());
        Assert.Equal(["up 40"], _fleet[0].Sent);

        await ws.SendAsync(new { type = "command", request_id = 18, action = "move_up", parameters = new { distance = 4000 } });
        result = await ws.ReceiveTypeAsync("command_result");
        Assert.Equal(18, result.GetProperty("request_id").GetInt32());
        Assert.False(result.GetProperty("success").GetBoolean());
        Assert.Equal("out_of_range", result.GetProperty("code").GetString());
        Assert.Single(_fleet[0].Sent);

        await ws.SendAsync(new { type = "command", request_id = "x", action = "land", drone_id = "tello-2" });
        Assert.True((await ws.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
        Assert.Equal(["land"], _fleet[1].Sent);
    }

    [Fact]
    public async Task Events_channel_carries_command_audit_and_link_up_and_down()
    {
        using var watcher = await _host.ConnectAsync();
        await watcher.SendAsync(new { type = "subscribe", channel = "events" });
        Assert.Equal("*", (await watcher.ReceiveTypeAsync("subscribed")).GetProperty("drone_id").GetString());

        var (status, _) = await _host.ExecuteAsync("takeoff");
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        var audit = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "command");
        Assert.Equal("takeoff", audit.GetProperty("action").GetString());
        Assert.Equal("ok", audit.GetProperty("outcome").GetString());
        Assert.Equal("addr:127.0.0.1", audit.GetProperty("by").GetString());

        _fleet[0].RaiseHealth(DroneLinkHealth.Lost);
        var down = await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "link_down");
        Assert.Equal("tello-1", down.GetProperty("drone_id").GetString());
        _fleet[0].RaiseHealth(DroneLinkHealth.Fresh);
        await watcher.ReceiveTypeAsync("event", e => e.GetProperty("event").GetString() == "link_up");
    }

    [Fact]
    public async Task A_status_subscriber_sees_connected_false_when_the_link_is_lost()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await ws.ReceiveTypeAsync("status_update");
        _fleet[0].RaiseHealth(DroneLinkHealth.Lost);
        var update = await ws.ReceiveTypeAsync("status_update");
        Assert.False(update.GetProperty("data").GetProperty("connected").GetBoolean());
    }

    [Fact]
    public async Task Max_hz_limits_the_rate_of_one_subscription_without_slowing_another()
    {
        using var slow = await _host.ConnectAsync();
        using var fast = await _host.ConnectAsync();
        await slow.SendAsync(new { type = "subscribe", channel = "status_updates", max_hz = 2 });
        Assert.Equal(2, (await slow.ReceiveTypeAsync("subscribed")).GetProperty("max_hz").GetDouble());
        await slow.ReceiveTypeAsync("status_update");
        await fast.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await fast.ReceiveTypeAsync("status_update");

        var started = Stopwatch.StartNew();
        for (var i = 0; i < 40; i++)
        {
            _fleet[0].RaiseState(FakeDroneLink.State(50, i + 1));
            await Task.Delay(25);
        }

        var elapsed = started.Elapsed;
        // The unlimited subscription is latest-wins too: a stall may merge updates, but they come in order and end at the newest.
        var fastCount = 0;
        var height = 0;
        while (height < 40)
        {
            var next = (await fast.ReceiveTypeAsync("status_update")).GetProperty("data").GetProperty("height_cm").GetInt32();
            Assert.True(next > height, $"update {next} after {height}: out of order");
            height = next;
            fastCount++;
        }

        Assert.Equal(40, height);
        Assert.InRange(fastCount, 1, 40);

        await slow.SendAsync(new { type = "ping", timestamp = 0 });
        var received = 0;
        while ((await slow.ReceiveAsync()).GetProperty("type").GetString() == "status_update")
        {
            received++;
        }

        var allowed = (int)Math.Ceiling(elapsed.TotalSeconds * 2) + 1;
        Assert.InRange(received, 1, allowed);
    }

    [Fact]
    public async Task Another_producer_can_publish_on_a_named_channel_through_ILocalHub()
    {
        var hub = _host.Services.GetRequiredService<ILocalHub>();
        hub.RegisterChannel("buffer", HubDelivery.Queued);
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "sensors" });
        await ws.ReceiveTypeAsync("subscribed");
        await ws.SendAsync(new { type = "subscribe", channel = "buffer" });
        await ws.ReceiveTypeAsync("subscribed");

        hub.Publish("sensors", "gps-1", new JsonObject { ["type"] = "sensor_reading", ["sensor_id"] = "gps-1", ["lat"] = 52.1 });
        hub.Publish("buffer", null, new JsonObject { ["type"] = "buffer_status", ["pending"] = 12 });

        Assert.Equal(52.1, (await ws.ReceiveTypeAsync("sensor_reading")).GetProperty("lat").GetDouble());
        Assert.Equal(12, (await ws.ReceiveTypeAsync("buffer_status")).GetProperty("pending").GetInt32());
    }

    [Fact]
    public async Task Unsubscribe_stops_updates()
    {
        using var ws = await _host.ConnectAsync();
        await ws.SendAsync(new { type = "subscribe", channel = "status_updates" });
        await ws.ReceiveTypeAsync("status_update");
        await ws.SendAsync(new { type = "unsubscribe", channel = "status_updates" });
        await ws.ReceiveTypeAsync("unsubscribed");
        _fleet[0].RaiseState(FakeDroneLink.State(50, 1));
        await ws.SendAsync(new { type = "ping", timestamp = 3 });
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
    }
}
