using System.Net;
using System.Net.WebSockets;
using EdgeGateway.LocalApi.Auth;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>Roles and tokens: none, wrong, observer, pilot, admin, trusted network; Bearer and ?token=.</summary>
public sealed class AuthTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    [Fact]
    public async Task No_token_outside_trusted_networks_is_an_observer_by_default()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.True(body.GetProperty("connected").GetBoolean());

        (status, body) = await host.ExecuteAsync("get_battery");
        Assert.Equal(HttpStatusCode.OK, status);

        (status, body) = await host.ExecuteAsync("takeoff");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("forbidden", body.GetProperty("code").GetString());
        Assert.Equal(["battery?"], _fleet[0].Sent);

        using var ws = await host.ConnectAsync();
        Assert.Equal("observer", ws.Established.GetProperty("role").GetString());
        await ws.SendAsync(new { type = "command", request_id = 1, action = "takeoff" });
        var result = await ws.ReceiveTypeAsync("command_result");
        Assert.Equal("forbidden", result.GetProperty("code").GetString());
    }

    [Fact]
    public async Task No_token_is_refused_when_anonymous_role_is_none()
    {
        var settings = ApiHost.TokenSettings();
        settings["LocalApi:Auth:AnonymousRole"] = "none";
        await using var host = await ApiHost.StartAsync(_fleet, output, settings);

        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("code").GetString());

        using var ws = await host.ConnectAsync(expectEstablished: false);
        var error = await ws.ReceiveAsync();
        Assert.Equal("unauthorized", error.GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.ReceiveCloseAsync());
    }

    [Fact]
    public async Task A_wrong_token_is_refused_over_http_and_the_websocket_even_from_a_trusted_network()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings(trustLoopback: true));

        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status", token: "not-a-token"));
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Equal("unauthorized", body.GetProperty("code").GetString());
        (status, _) = await host.ExecuteAsync("takeoff", token: "not-a-token");
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        Assert.Empty(_fleet[0].Sent);

        using var ws = await host.ConnectAsync(token: "not-a-token", expectEstablished: false);
        Assert.Equal("unauthorized", (await ws.ReceiveAsync()).GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.ReceiveCloseAsync());
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains("not-a-token", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Observer_token_may_read_but_not_fly()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        var (status, _) = await host.ExecuteAsync("get_height", token: ApiHost.ObserverToken);
        Assert.Equal(HttpStatusCode.OK, status);
        var (status2, body) = await host.ExecuteAsync("land", token: ApiHost.ObserverToken);
        Assert.Equal(HttpStatusCode.Forbidden, status2);
        Assert.Contains("pilot", body.GetProperty("error").GetString());
        var (status3, _) = await host.ExecuteAsync("emergency", token: ApiHost.ObserverToken);
        Assert.Equal(HttpStatusCode.Forbidden, status3);
        Assert.Equal(["height?"], _fleet[0].Sent);
    }

    [Fact]
    public async Task Pilot_token_may_fly_with_bearer_or_query_token()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        var (status, _) = await host.ExecuteAsync("takeoff", token: ApiHost.PilotToken);
        Assert.Equal(HttpStatusCode.OK, status);

        using var ws = await host.ConnectAsync(token: ApiHost.PilotToken);
        Assert.Equal("pilot", ws.Established.GetProperty("role").GetString());
        Assert.Equal("token:alice", ws.Established.GetProperty("identity").GetString());
        await ws.SendAsync(new { type = "command", request_id = "a", action = "move_forward", parameters = new { distance = 100 } });
        Assert.True((await ws.ReceiveTypeAsync("command_result")).GetProperty("success").GetBoolean());
        Assert.Equal(["takeoff", "forward 100"], _fleet[0].Sent);
        Assert.DoesNotContain(host.Logs.Entries, e => e.Message.Contains(ApiHost.PilotToken, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bearer_header_works_on_the_websocket_too()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        using var ws = await host.ConnectAsync(configure: o => o.SetRequestHeader("Authorization", "Bearer " + ApiHost.AdminToken));
        Assert.Equal("admin", ws.Established.GetProperty("role").GetString());
    }

    [Fact]
    public async Task Admin_token_may_fly_and_take_over_control()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: ApiHost.PilotToken)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await host.ExecuteAsync("land", token: ApiHost.AdminToken)).Status);
        var (status, body) = await host.ExecuteAsync("take_control", token: ApiHost.AdminToken);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("token:root", body.GetProperty("data").GetProperty("holder").GetString());
        Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("land", token: ApiHost.AdminToken)).Status);
        Assert.Equal(HttpStatusCode.Conflict, (await host.ExecuteAsync("move_up", new { distance = 30 }, token: ApiHost.PilotToken)).Status);
    }

    [Fact]
    public async Task Trusted_network_gets_the_configured_role_without_a_token()
    {
        var settings = ApiHost.TokenSettings(trustLoopback: true);
        settings["LocalApi:Auth:TrustedRole"] = "observer";
        await using (var host = await ApiHost.StartAsync(_fleet, output, settings))
        {
            Assert.Equal(HttpStatusCode.Forbidden, (await host.ExecuteAsync("takeoff")).Status);
            using var ws = await host.ConnectAsync();
            Assert.Equal("observer", ws.Established.GetProperty("role").GetString());
        }

        settings["LocalApi:Auth:TrustedRole"] = "pilot";
        settings["LocalApi:Auth:AnonymousRole"] = "none";
        await using (var host = await ApiHost.StartAsync(_fleet, output, settings))
        {
            Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff")).Status);
            using var ws = await host.ConnectAsync();
            Assert.Equal("pilot", ws.Established.GetProperty("role").GetString());
        }
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task Token_file_readable_only_by_the_owner_adds_tokens()
    {
        var path = Path.Combine(Path.GetTempPath(), $"edge-tokens-{Guid.NewGuid():N}");
        try
        {
            await File.WriteAllTextAsync(path, "# name role secret\nfield-tablet pilot tablet-secret\nviewer observer " + TokenHash.Format("view-secret") + "\n");
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            var settings = ApiHost.TokenSettings();
            settings["LocalApi:Auth:TokenFile"] = path;
            await using var host = await ApiHost.StartAsync(_fleet, output, settings);
            Assert.Equal(HttpStatusCode.OK, (await host.ExecuteAsync("takeoff", token: "tablet-secret")).Status);
            Assert.Equal(HttpStatusCode.Forbidden, (await host.ExecuteAsync("land", token: "view-secret")).Status);

            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            var errors = new LocalApiOptions { Auth = { TokenFile = path } }.Validate("LocalApi").ToList();
            Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:TokenFile: must be readable by the service user only", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Invalid_auth_options_name_the_key_and_the_allowed_values()
    {
        var options = new LocalApiOptions
        {
            Auth =
            {
                Tokens = [new LocalApiTokenOptions { Name = "x", Role = "pilot", Hash = "plain-token" }, new LocalApiTokenOptions { Name = "", Role = "boss", Hash = TokenHash.Format("a") }],
                TrustedNetworks = ["10.0.0.0/33"],
                AnonymousRole = "pilot",
                TrustedRole = "god",
            },
            Limits = { MaxConnections = 0, AllowedOrigins = ["http://ok.example", "not an origin"] },
            Failsafe = { PilotSilenceSeconds = -1 },
            Commands = { MinTakeoffBatteryPercent = 101 },
        };
        var errors = options.Validate("LocalApi").ToList();
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:Tokens:0:Hash: must be sha256:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:Tokens:1:Name:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:Tokens:1:Role: must be observer, pilot or admin", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:TrustedNetworks:0: must be a CIDR block", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:AnonymousRole: must be observer or none", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:TrustedRole:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Limits:MaxConnections:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Limits:AllowedOrigins:1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Failsafe:PilotSilenceSeconds:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Commands:MinTakeoffBatteryPercent:", StringComparison.Ordinal));
        Assert.Equal(10, errors.Count);
        Assert.Empty(new LocalApiOptions().Validate("LocalApi"));
    }

    [Fact]
    public async Task Invalid_options_fail_the_host_at_start_naming_the_key()
    {
        var settings = new Dictionary<string, string?> { ["LocalApi:Limits:MaxFrameBytes"] = "0" };
        var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => ApiHost.StartAsync(_fleet, output, settings));
        Assert.Contains("LocalApi:Limits:MaxFrameBytes", e.Message);
    }
}
