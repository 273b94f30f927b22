using System.Net.WebSockets;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>An Authorization header that is not exactly "Bearer &lt;token&gt;" is refused, even from a trusted network.</summary>
public sealed class AuthorizationHeaderTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    public static TheoryData<string> MalformedHeaders => new()
    {
        "Authorization: Bearer\t" + ApiHost.PilotToken,
        "Authorization: Token " + ApiHost.PilotToken,
        "Authorization: Bearer",
        "Authorization: Bearer ",
        "Authorization: ",
        "Authorization: Bearer  " + ApiHost.PilotToken,
        "Authorization: Basic dXNlcjpwYXNz",
    };

    [Theory]
    [MemberData(nameof(MalformedHeaders))]
    public async Task A_malformed_authorization_header_gets_401_even_from_a_trusted_network(string headerLine)
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings(trustLoopback: true));

        var (status, head, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            [$"Host: 127.0.0.1:{host.BaseAddress.Port}", headerLine], """{"action":"takeoff"}""");

        Assert.Equal(401, status);
        Assert.Equal("unauthorized", body!.Value.GetProperty("code").GetString());
        Assert.Contains("WWW-Authenticate: Bearer", head, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(_fleet[0].Sent);

        (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/api/drone/status",
            [$"Host: 127.0.0.1:{host.BaseAddress.Port}", headerLine]);
        Assert.Equal(401, status);
    }

    [Fact]
    public async Task Two_authorization_headers_get_401()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings(trustLoopback: true));
        var (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/api/drone/status",
            [$"Host: 127.0.0.1:{host.BaseAddress.Port}", "Authorization: Bearer " + ApiHost.PilotToken, "Authorization: Bearer " + ApiHost.PilotToken]);
        Assert.Equal(401, status);
    }

    [Fact]
    public async Task A_well_formed_bearer_token_in_any_scheme_case_is_accepted()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings());
        var (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            [$"Host: 127.0.0.1:{host.BaseAddress.Port}", "Authorization: bearer " + ApiHost.PilotToken], """{"action":"takeoff"}""");
        Assert.True(status == 200, body.ToString());
    }

    [Theory]
    [InlineData("Bearer\t" + ApiHost.PilotToken)]
    [InlineData("Token " + ApiHost.PilotToken)]
    [InlineData("Bearer")]
    public async Task A_malformed_authorization_header_is_refused_on_the_websocket_even_from_a_trusted_network(string value)
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, ApiHost.TokenSettings(trustLoopback: true));
        using var ws = await host.ConnectAsync(configure: o => o.SetRequestHeader("Authorization", value), expectEstablished: false);
        var error = await ws.ReceiveAsync();
        Assert.Equal("unauthorized", error.GetProperty("code").GetString());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await ws.ReceiveCloseAsync());
    }
}
