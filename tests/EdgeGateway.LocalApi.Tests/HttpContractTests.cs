using System.Net;
using System.Text;
using System.Text.Json;
using EdgeGateway.Drones;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>The MUST points of GET /api/drone/status and POST /api/drone/execute (protocol-3002.md), through real Kestrel.</summary>
public sealed class HttpContractTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"), new FakeDroneLink("tello-2", battery: 55));
    private ApiHost _host = null!;
    private Func<string, bool>? _expectedErrors;

    // Default configuration: loopback is trusted as pilot, like the unchanged agent backend on the same machine.
    public async Task InitializeAsync() => _host = await ApiHost.StartAsync(_fleet, output);

    public async Task DisposeAsync()
    {
        _host.Logs.AssertNoUnexpectedErrors(_expectedErrors);
        await _host.DisposeAsync();
    }

    [Fact]
    public async Task Status_is_200_with_connected_battery_and_the_full_status_object()
    {
        _fleet[0].RaiseState(FakeDroneLink.State(battery: 64, height: 120));
        var (status, body) = await _host.SendAsync(_host.Request(HttpMethod.Get, "/api/drone/status"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("connected").GetBoolean());
        Assert.Equal(64, body.GetProperty("battery").GetInt32());
        Assert.Equal("tello-1", body.GetProperty("drone_id").GetString());
        Assert.Equal(120, body.GetProperty("height_cm").GetInt32());
        Assert.Equal(44, body.GetProperty("temperature_c").GetProperty("low").GetInt32());
        Assert.Equal(47, body.GetProperty("temperature_c").GetProperty("high").GetInt32());
        Assert.Equal(1, body.GetProperty("attitude_deg").GetProperty("pitch").GetInt32());
        Assert.Equal(-2, body.GetProperty("attitude_deg").GetProperty("roll").GetInt32());
        Assert.Equal(45, body.GetProperty("attitude_deg").GetProperty("yaw").GetInt32());
        Assert.Equal(3, body.GetProperty("speed_dm_s").GetProperty("z").GetInt32());
        Assert.Equal(-988, body.GetProperty("acceleration_mg").GetProperty("z").GetDouble());
        Assert.Equal(17.84, body.GetProperty("barometer").GetDouble());
        Assert.Equal(10, body.GetProperty("tof_cm").GetInt32());
        Assert.Equal(3, body.GetProperty("flight_time_s").GetInt32());
        Assert.False(body.GetProperty("is_flying").GetBoolean());
        Assert.True(DateTimeOffset.UtcNow - body.GetProperty("last_update").GetDateTimeOffset() < TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task Status_is_200_with_connected_false_and_null_battery_when_the_drone_is_disconnected()
    {
        _fleet[0].Status = new DroneStatus("tello-1", "127.0.0.2:8889", DroneLinkHealth.Lost, null, null, false);
        var (status, body) = await _host.SendAsync(_host.Request(HttpMethod.Get, "/api/drone/status"));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(body.GetProperty("connected").GetBoolean());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("battery").ValueKind);
        Assert.Equal("lost", body.GetProperty("link").GetString());
    }

    [Fact]
    public async Task Status_of_a_second_drone_by_drone_id_and_unknown_drone_is_json_404()
    {
        var (status, body) = await _host.SendAsync(_host.Request(HttpMethod.Get, "/api/drone/status?drone_id=tello-2"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(55, body.GetProperty("battery").GetInt32());

        (status, body) = await _host.SendAsync(_host.Request(HttpMethod.Get, "/api/drone/status?drone_id=nope"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("unknown_drone", body.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Drones_lists_every_configured_drone_with_its_status_and_the_default()
    {
        var (status, body) = await _host.SendAsync(_host.Request(HttpMethod.Get, "/api/drones"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("tello-1", body.GetProperty("default_drone_id").GetString());
        var drones = body.GetProperty("drones").EnumerateArray().ToList();
        Assert.Equal(["tello-1", "tello-2"], drones.Select(d => d.GetProperty("drone_id").GetString()));
        Assert.Equal(55, drones[1].GetProperty("status").GetProperty("battery").GetInt32());
    }

    [Fact]
    public async Task Execute_takeoff_returns_success_message_and_data_and_sends_takeoff()
    {
        var (status, body) = await _host.ExecuteAsync("takeoff");

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.Object, body.GetProperty("data").ValueKind);
        Assert.Equal("takeoff", body.GetProperty("data").GetProperty("command").GetString());
        Assert.Equal(["takeoff"], _fleet[0].Sent);
    }

    [Theory]
    [InlineData("takeoff", null, null, "takeoff")]
    [InlineData("land", null, null, "land")]
    [InlineData("emergency", null, null, "emergency")]
    [InlineData("move_up", "distance", 20, "up 20")]
    [InlineData("move_down", "distance", 500, "down 500")]
    [InlineData("move_left", "distance", 30, "left 30")]
    [InlineData("move_right", "distance", 40, "right 40")]
    [InlineData("move_forward", "distance", 50, "forward 50")]
    [InlineData("move_back", "distance", 60, "back 60")]
    [InlineData("rotate_clockwise", "degrees", 90, "cw 90")]
    [InlineData("rotate_counter_clockwise", "degrees", 360, "ccw 360")]
    [InlineData("rotate_clockwise", "angle", 45, "cw 45")]
    [InlineData("get_battery", null, null, "battery?")]
    [InlineData("get_temperature", null, null, "temp?")]
    [InlineData("get_height", null, null, "height?")]
    [InlineData("drone_takeoff", null, null, "takeoff")]
    [InlineData("drone_move_up", "distance", 25, "up 25")]
    [InlineData("drone_rotate_counter_clockwise", "angle", 10, "ccw 10")]
    [InlineData("drone_get_battery", null, null, "battery?")]
    public async Task Every_contract_action_and_alias_sends_its_sdk_command(string action, string? parameter, int? value, string expected)
    {
        var parameters = parameter is null ? new Dictionary<string, object>() : new Dictionary<string, object> { [parameter] = value! };
        var (status, body) = await _host.ExecuteAsync(action, parameters);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("success").GetBoolean(), body.ToString());
        Assert.Equal([expected], _fleet[0].Sent);
    }

    [Fact]
    public async Task Get_battery_returns_the_value_in_data()
    {
        var (_, body) = await _host.ExecuteAsync("get_battery");
        Assert.Equal(87, body.GetProperty("data").GetProperty("battery").GetDouble());
    }

    [Theory]
    [InlineData("move_up", "distance", 19)]
    [InlineData("move_forward", "distance", 501)]
    [InlineData("move_back", "distance", -50)]
    [InlineData("rotate_clockwise", "degrees", 0)]
    [InlineData("rotate_counter_clockwise", "degrees", 361)]
    [InlineData("rotate_clockwise", "angle", 720)]
    public async Task Out_of_range_parameters_are_refused_never_clamped(string action, string parameter, int value)
    {
        var (status, body) = await _host.ExecuteAsync(action, new Dictionary<string, object> { [parameter] = value });

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal("out_of_range", body.GetProperty("code").GetString());
        Assert.Contains("between", body.GetProperty("error").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Theory]
    [InlineData("{\"action\":\"move_up\",\"parameters\":{}}")]
    [InlineData("{\"action\":\"move_up\",\"parameters\":{\"distance\":\"far\"}}")]
    [InlineData("{\"action\":\"move_up\",\"parameters\":{\"distance\":30.5}}")]
    [InlineData("{\"action\":\"move_up\",\"parameters\":[1]}")]
    public async Task Missing_or_non_integer_parameters_are_refused(string json)
    {
        var (status, body) = await PostRawAsync(json, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_parameter", body.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Unknown_action_is_refused_with_json_and_nothing_is_sent()
    {
        var (status, body) = await _host.ExecuteAsync("do_a_barrel_roll");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal("unknown_action", body.GetProperty("code").GetString());
        Assert.Contains("do_a_barrel_roll", body.GetProperty("error").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Theory]
    [InlineData("{\"action\": \"takeoff\"", "invalid_json")]
    [InlineData("not json at all", "invalid_json")]
    [InlineData("[1,2,3]", "invalid_json")]
    [InlineData("", "invalid_json")]
    [InlineData("{\"parameters\":{}}", "invalid_request")]
    [InlineData("{\"action\":42}", "invalid_request")]
    public async Task Malformed_bodies_get_a_json_400(string json, string code)
    {
        var (status, body) = await PostRawAsync(json, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal(code, body.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Wrong_content_type_gets_json_415()
    {
        var (status, body) = await PostRawAsync("{\"action\":\"takeoff\"}", "text/plain");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("unsupported_media_type", body.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Oversized_body_gets_json_413()
    {
        var big = "{\"action\":\"takeoff\",\"pad\":\"" + new string('x', 20_000) + "\"}";
        var (status, body) = await PostRawAsync(big, "application/json");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("body_too_large", body.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Oversized_chunked_body_without_length_gets_json_413()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/drone/execute")
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"action\":\"takeoff\",\"pad\":\"" + new string('x', 40_000) + "\"}"))),
        };
        request.Content.Headers.ContentType = new("application/json");
        request.Headers.TransferEncodingChunked = true;
        var (status, body) = await _host.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        Assert.Equal("body_too_large", body.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("GET", "/api/nothing/here", HttpStatusCode.NotFound, "not_found")]
    [InlineData("POST", "/api/drone/fly", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "/api/drone/execute", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "/api/drone/status", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("GET", "/ws", HttpStatusCode.BadRequest, "invalid_request")]
    public async Task Unknown_routes_and_wrong_methods_get_json_errors(string method, string path, HttpStatusCode expected, string code)
    {
        var (status, body) = await _host.SendAsync(_host.Request(new HttpMethod(method), path));
        Assert.Equal(expected, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal(code, body.GetProperty("code").GetString());
    }

    [Fact]
    public async Task An_exception_in_the_drone_link_gets_a_json_500_and_the_api_keeps_serving()
    {
        _expectedErrors = m => m.StartsWith("Unexpected error handling POST /api/drone/execute", StringComparison.Ordinal);
        _fleet[0].Respond = _ => throw new InvalidOperationException("boom");
        var (status, body) = await _host.ExecuteAsync("land");
        Assert.Equal(HttpStatusCode.InternalServerError, status);
        Assert.Equal("internal_error", body.GetProperty("code").GetString());
        Assert.DoesNotContain("boom", body.GetProperty("error").GetString());

        _fleet[0].Respond = null;
        (status, _) = await _host.ExecuteAsync("land");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Theory]
    [InlineData(DroneCommandOutcome.DroneError, "error Motor stop", HttpStatusCode.BadGateway, "drone_error")]
    [InlineData(DroneCommandOutcome.Timeout, null, HttpStatusCode.GatewayTimeout, "drone_timeout")]
    [InlineData(DroneCommandOutcome.LinkDown, null, HttpStatusCode.ServiceUnavailable, "drone_unavailable")]
    [InlineData(DroneCommandOutcome.Busy, null, HttpStatusCode.ServiceUnavailable, "drone_busy")]
    public async Task Drone_side_failures_are_non_2xx_with_a_json_error(DroneCommandOutcome outcome, string? reply, HttpStatusCode expected, string code)
    {
        _fleet[0].Respond = _ => new DroneCommandResult(outcome, reply, null, TimeSpan.FromMilliseconds(5));
        var (status, body) = await _host.ExecuteAsync("move_up", new { distance = 50 });
        Assert.Equal(expected, status);
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.Equal(code, body.GetProperty("code").GetString());
        if (reply is not null)
        {
            Assert.Contains(reply, body.GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task Takeoff_is_refused_below_the_configured_battery_level()
    {
        _fleet[0].RaiseState(FakeDroneLink.State(battery: 12, height: 0));
        var (status, body) = await _host.ExecuteAsync("takeoff");
        Assert.Equal(HttpStatusCode.Conflict, status);
        Assert.Equal("battery_too_low", body.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Execute_with_drone_id_targets_that_drone_and_unknown_drone_is_404()
    {
        var (status, _) = await _host.ExecuteAsync("takeoff", droneId: "tello-2");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["takeoff"], _fleet[1].Sent);
        Assert.Empty(_fleet[0].Sent);

        var (status2, body) = await _host.ExecuteAsync("takeoff", droneId: "tello-9");
        Assert.Equal(HttpStatusCode.NotFound, status2);
        Assert.Equal("unknown_drone", body.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Extra_timestamp_field_in_the_body_is_accepted()
    {
        var (status, _) = await PostRawAsync("{\"action\":\"land\",\"parameters\":{},\"timestamp\":1732230000.5}", "application/json");
        Assert.Equal(HttpStatusCode.OK, status);
    }

    private Task<(HttpStatusCode, JsonElement)> PostRawAsync(string body, string contentType)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/drone/execute") { Content = new StringContent(body, Encoding.UTF8) };
        request.Content.Headers.ContentType = new(contentType);
        return _host.SendAsync(request);
    }
}
