using System.Buffers.Text;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>What the field console needs from the API: a token without a URL, who am I and the limits, who holds control.</summary>
public sealed class ConsoleApiTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private static string Subprotocol(string token) => "edge-gateway.bearer." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(token));

    [Fact]
    public async Task A_token_offered_as_a_websocket_subprotocol_gets_its_role_and_the_server_selects_edge_gateway()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());

        using var ws = await host.ConnectAsync(configure: o =>
        {
            o.AddSubProtocol("edge-gateway");
            o.AddSubProtocol(Subprotocol(ApiHost.PilotToken));
        });

        Assert.Equal("pilot", ws.Established.GetProperty("role").GetString());
        Assert.StartsWith("token:", ws.Established.GetProperty("identity").GetString(), StringComparison.Ordinal);
        Assert.Equal("edge-gateway", ws.Socket.SubProtocol);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains(ApiHost.PilotToken, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("not-a-token")]
    [InlineData(null)] // not base64url at all
    [InlineData("")] // offered, but empty
    public async Task A_wrong_or_malformed_subprotocol_token_is_refused_with_1008_even_from_a_trusted_network(string? token)
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings(trustLoopback: true));

        using var ws = await host.ConnectAsync(expectEstablished: false, configure: o =>
        {
            o.AddSubProtocol("edge-gateway");
            o.AddSubProtocol(token is null ? "edge-gateway.bearer.%%%" : Subprotocol(token));
        });

        Assert.Equal("unauthorized", (await ws.ReceiveAsync()).GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.ReceiveCloseAsync());
    }

    [Fact]
    public async Task Gateway_info_names_the_caller_and_the_limits_that_decide_which_controls_are_allowed()
    {
        var settings = ApiHost.TokenSettings();
        settings["LocalApi:Commands:MinTakeoffBatteryPercent"] = "35";
        settings["LocalApi:Failsafe:PilotSilenceSeconds"] = "12";
        await using var host = await ApiHost.StartAsync(_fleet, output, settings);

        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/gateway", token: ApiHost.ObserverToken));

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("observer", body.GetProperty("you").GetProperty("role").GetString());
        Assert.Equal("token", body.GetProperty("you").GetProperty("via").GetString());
        Assert.Equal(35, body.GetProperty("min_takeoff_battery_percent").GetInt32());
        Assert.Equal(12, body.GetProperty("failsafe").GetProperty("pilot_silence_s").GetDouble());
        Assert.Equal("tello-1", body.GetProperty("default_drone_id").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("version").GetString()));
        Assert.True(body.GetProperty("uptime_s").GetDouble() >= 0);

        (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/gateway", token: "wrong"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        (status, _) = await host.SendAsync(host.Request(HttpMethod.Post, "/api/gateway", json: new { }));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, status);
    }

    [Fact]
    public async Task Drones_list_who_holds_control_since_when_and_how_long_they_have_been_silent()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var (status, _) = await host.ExecuteAsync("take_control", token: ApiHost.PilotToken);
        Assert.Equal(HttpStatusCode.OK, status);
        var (_, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drones", token: ApiHost.ObserverToken));

        var control = body.GetProperty("drones")[0].GetProperty("control");
        Assert.Equal(body.GetProperty("drones")[0].GetProperty("controlled_by").GetString(), control.GetProperty("holder").GetString());
        Assert.StartsWith("token:", control.GetProperty("holder").GetString(), StringComparison.Ordinal);
        Assert.InRange(control.GetProperty("since").GetDateTimeOffset(), before, DateTimeOffset.UtcNow.AddSeconds(1));
        Assert.InRange(control.GetProperty("holder_silent_s").GetDouble(), 0, 60);
        Assert.False(control.GetProperty("failsafe_hovering").GetBoolean());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, control.GetProperty("land_in_s").ValueKind);

        await host.ExecuteAsync("release_control", token: ApiHost.PilotToken);
        (_, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drones", token: ApiHost.ObserverToken));
        control = body.GetProperty("drones")[0].GetProperty("control");
        Assert.Equal(System.Text.Json.JsonValueKind.Null, control.GetProperty("holder").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, control.GetProperty("since").ValueKind);
    }

    [Fact]
    public async Task Drones_show_the_failsafe_countdown_the_silence_so_far_then_the_hover_and_the_time_left_before_landing()
    {
        var clock = new ManualTimeProvider();
        var settings = ApiHost.TokenSettings();
        settings["LocalApi:Failsafe:PilotSilenceSeconds"] = "10";
        settings["LocalApi:Failsafe:LandGraceSeconds"] = "8";
        await using var host = await ApiHost.StartAsync(_fleet, output, settings, clock);
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: ApiHost.PilotToken)).Status);

        clock.Advance(TimeSpan.FromSeconds(4));
        var control = await ControlAsync(host);
        Assert.Equal(4, control.GetProperty("holder_silent_s").GetDouble(), precision: 1);
        Assert.False(control.GetProperty("failsafe_hovering").GetBoolean());

        clock.Advance(TimeSpan.FromSeconds(6.5));
        await TaskTimeouts.Eventually(() => _fleet[0].Sent.Contains("stop"), "the failsafe hovered after 10 s of silence");
        clock.Advance(TimeSpan.FromSeconds(3));
        control = await ControlAsync(host);
        Assert.True(control.GetProperty("failsafe_hovering").GetBoolean());
        Assert.Equal(JsonValueKindNull, control.GetProperty("holder").ValueKind);
        Assert.InRange(control.GetProperty("land_in_s").GetDouble(), 4.4, 5.1);
    }

    private const System.Text.Json.JsonValueKind JsonValueKindNull = System.Text.Json.JsonValueKind.Null;

    private static async Task<System.Text.Json.JsonElement> ControlAsync(ApiHost host)
    {
        var (_, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drones", token: ApiHost.ObserverToken));
        return body.GetProperty("drones")[0].GetProperty("control");
    }
}
