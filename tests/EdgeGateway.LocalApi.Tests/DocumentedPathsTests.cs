using System.Net;
using System.Net.WebSockets;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>Paths docs/protocol.md promises that no other test walks: each one sends the input and asserts the answer.</summary>
public sealed class DocumentedPathsTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"), new FakeDroneLink("tello-2"));

    [Fact]
    public async Task More_commands_in_flight_than_allowed_get_too_many_commands_and_the_others_complete()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _fleet[0].Hold = hold;
        await using var host = await ApiHost.StartAsync(_fleet, output, new Dictionary<string, string?> { ["LocalApi:Limits:MaxCommandsInFlight"] = "1" });
        using var ws = await host.ConnectAsync();
        await ws.SendAsync(new { type = "command", request_id = "a", action = "takeoff" });
        await ws.SendAsync(new { type = "command", request_id = "b", action = "get_battery" });
        var error = await ws.ReceiveTypeAsync("error");
        Assert.Equal("too_many_commands", error.GetProperty("code").GetString());
        Assert.Equal("b", error.GetProperty("request_id").GetString());
        Assert.Contains("1 commands in flight", error.GetProperty("message").GetString());

        hold.SetResult();
        Assert.Equal("a", (await ws.ReceiveTypeAsync("command_result")).GetProperty("request_id").GetString());
        // With the first one done, the next is accepted again.
        await ws.SendAsync(new { type = "command", request_id = "c", action = "get_battery" });
        Assert.True((await ws.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
        Assert.Equal(["takeoff", "battery?"], _fleet[0].Sent);
    }

    [Fact]
    public async Task Release_control_without_holding_it_is_not_controlling_over_http_and_websocket()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var (status, body) = await host.ExecuteAsync("release_control");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal("not_controlling", body.GetProperty("code").GetString());

        using var ws = await host.ConnectAsync();
        await ws.SendAsync(new { type = "release_control", request_id = 4 });
        var error = await ws.ReceiveTypeAsync("error");
        Assert.Equal("not_controlling", error.GetProperty("code").GetString());
        Assert.Equal(4, error.GetProperty("request_id").GetInt32());
        Assert.Equal("tello-1", error.GetProperty("drone_id").GetString());
    }

    [Fact]
    public async Task Get_status_answers_from_the_gateway_without_sending_anything_to_the_drone()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var (status, body) = await host.ExecuteAsync("drone_get_status", droneId: "tello-2");
        Assert.Equal(HttpStatusCode.OK, status);
        var data = body.GetProperty("data");
        Assert.Equal("tello-2", data.GetProperty("drone_id").GetString());
        Assert.True(data.GetProperty("connected").GetBoolean());
        Assert.Equal(87, data.GetProperty("battery").GetInt32());
        Assert.False(data.GetProperty("is_flying").GetBoolean());
        Assert.Empty(_fleet[0].Sent);
        Assert.Empty(_fleet[1].Sent);
    }

    [Theory]
    [InlineData("go", "{\"x\":600,\"y\":0,\"z\":0,\"speed\":50}", "out_of_range")]
    [InlineData("go", "{\"x\":100,\"y\":0,\"z\":0,\"speed\":5}", "out_of_range")]
    [InlineData("go", "{\"x\":10,\"y\":10,\"z\":10,\"speed\":50}", "out_of_range")]
    [InlineData("go", "{\"x\":100,\"y\":0,\"z\":0}", "invalid_parameter")]
    [InlineData("set_speed", "{\"speed\":5}", "out_of_range")]
    [InlineData("set_speed", "{\"speed\":101}", "out_of_range")]
    [InlineData("set_speed", "{\"speed\":\"fast\"}", "invalid_parameter")]
    [InlineData("flip", "{\"direction\":\"x\"}", "invalid_parameter")]
    [InlineData("flip", "{\"direction\":\"left\"}", "invalid_parameter")]
    [InlineData("flip", "{}", "invalid_parameter")]
    public async Task Go_set_speed_and_flip_outside_the_sdk_are_refused_and_nothing_is_sent(string action, string parameters, string code)
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var request = host.Request(HttpMethod.Post, "/api/drone/execute");
        request.Content = new StringContent($"{{\"action\":\"{action}\",\"parameters\":{parameters}}}", System.Text.Encoding.UTF8, "application/json");
        var (status, body) = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
        Assert.Empty(_fleet[0].Sent);
    }

    [Theory]
    [InlineData("go", "{\"x\":100,\"y\":-50,\"z\":20,\"speed\":60}", "go 100 -50 20 60")]
    [InlineData("set_speed", "{\"speed\":100}", "speed 100")]
    [InlineData("flip", "{\"direction\":\"b\"}", "flip b")]
    public async Task Go_set_speed_and_flip_inside_the_sdk_are_sent(string action, string parameters, string sent)
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var request = host.Request(HttpMethod.Post, "/api/drone/execute");
        request.Content = new StringContent($"{{\"action\":\"{action}\",\"parameters\":{parameters}}}", System.Text.Encoding.UTF8, "application/json");
        var (status, body) = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal([sent], _fleet[0].Sent);
    }

    [Fact]
    public async Task Drone_id_in_the_execute_query_string_picks_the_drone()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Post, "/api/drone/execute?drone_id=tello-2", json: new { action = "land" }));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tello-2", body.GetProperty("data").GetProperty("drone_id").GetString());
        Assert.Equal(["land"], _fleet[1].Sent);
        Assert.Empty(_fleet[0].Sent);

        (status, body) = await host.SendAsync(host.Request(HttpMethod.Post, "/api/drone/execute?drone_id=tello-9", json: new { action = "land" }));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("unknown_drone", body.GetProperty("code").GetString());

        // drone_id in the body wins over the query.
        (status, _) = await host.SendAsync(host.Request(HttpMethod.Post, "/api/drone/execute?drone_id=tello-9", json: new { action = "land", drone_id = "tello-1" }));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["land"], _fleet[0].Sent);
    }

    [Fact]
    public async Task An_unknown_action_over_the_websocket_gets_a_failed_command_result_and_the_connection_stays_open()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        using var ws = await host.ConnectAsync();
        await ws.SendAsync(new { type = "command", request_id = "t", action = "teleport" });
        var result = await ws.ReceiveTypeAsync("command_result");
        Assert.Equal("t", result.GetProperty("request_id").GetString());
        Assert.False(result.GetProperty("success").GetBoolean());
        Assert.Equal("unknown_action", result.GetProperty("code").GetString());
        Assert.Contains("teleport", result.GetProperty("error").GetString());

        await ws.SendAsync(new { type = "command", request_id = "u" });
        Assert.Equal("invalid_request", (await ws.ReceiveTypeAsync("command_result")).GetProperty("code").GetString());
        await ws.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task The_server_keepalive_drops_a_peer_that_never_answers_pings()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, new Dictionary<string, string?>
        {
            ["LocalApi:Limits:KeepAliveIntervalSeconds"] = "0.5",
            ["LocalApi:Limits:KeepAliveTimeoutSeconds"] = "1",
        });
        var hub = host.Services.GetRequiredService<LocalHub>();
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        // A ClientWebSocket answers pings only while a receive is pending: this one never receives, like a dead peer.
        using var dead = await host.ConnectAsync(expectEstablished: false, configure: o => o.KeepAliveInterval = TimeSpan.Zero);
        await TaskTimeouts.Eventually(() => hub.ConnectionCount == 1, "connected");
        await TaskTimeouts.Eventually(() => hub.ConnectionCount == 0, "the server dropped the silent peer", TimeSpan.FromSeconds(30));
        // The keepalive timeout aborts the request: counted as "aborted" (docs/protocol.md).
        Assert.Equal("aborted", Assert.Single(metrics.Measurements("edge_localapi_ws_disconnects")).Tags["reason"]);
    }

    [Fact]
    public async Task A_live_peer_that_answers_pings_is_kept_by_the_server_keepalive()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, new Dictionary<string, string?>
        {
            ["LocalApi:Limits:KeepAliveIntervalSeconds"] = "0.2",
            ["LocalApi:Limits:KeepAliveTimeoutSeconds"] = "4",
        });
        using var live = await host.ConnectAsync();
        var receive = live.ReceiveOrCloseAsync(TimeSpan.FromSeconds(60)); // a pending receive answers the pings
        await Task.Delay(TimeSpan.FromSeconds(6));
        Assert.False(receive.IsCompleted, "the server dropped a live peer");
        await live.SendAsync(new { type = "ping", timestamp = 2 });
        Assert.Equal("pong", (await receive)!.Value.GetProperty("type").GetString());
    }
}
