using System.Diagnostics.Metrics;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>Invalid UTF-8, a gateway with no drone, and tokens in URLs kept out of every log.</summary>
public sealed class RobustnessTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_text_frame_with_invalid_utf8_is_closed_with_1007_and_counted_as_a_protocol_error()
    {
        // .NET's WebSocket validates UTF-8 in text frames itself and closes with 1007 before the gateway sees the
        // frame, so this is the one malformed frame that cannot get an error frame back (docs/protocol.md, close codes).
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(new FakeDroneLink("tello-1")), output);
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var ws = await host.ConnectAsync();
        byte[] invalid = [(byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)'}'];
        await ws.Socket.SendAsync(invalid, WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout();

        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, await ws.ReceiveCloseAsync());
        await TaskTimeouts.Eventually(() => metrics.Measurements("edge_localapi_ws_disconnects").Count == 1, "the disconnect is counted");
        Assert.Equal("protocol_error", metrics.Measurements("edge_localapi_ws_disconnects")[0].Tags["reason"]);
    }

    [Fact]
    public async Task Invalid_utf8_in_a_binary_frame_gets_the_binary_error_and_the_connection_stays_open()
    {
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(new FakeDroneLink("tello-1")), output);
        using var ws = await host.ConnectAsync();
        await ws.Socket.SendAsync(new byte[] { 0xC3, 0x28 }, WebSocketMessageType.Binary, true, CancellationToken.None).WithTimeout();
        Assert.Equal("binary_not_supported", (await ws.ReceiveAsync()).GetProperty("code").GetString());
        await ws.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await ws.ReceiveAsync()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task With_no_drone_configured_status_is_200_disconnected_so_the_health_check_passes()
    {
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(), output);
        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status"));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.False(body.GetProperty("connected").GetBoolean());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("battery").ValueKind);
        Assert.Equal(JsonValueKind.Null, body.GetProperty("drone_id").ValueKind);
        Assert.False(body.GetProperty("is_flying").GetBoolean());

        // An explicit unknown drone is still 404.
        (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status?drone_id=tello-1"));
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("unknown_drone", body.GetProperty("code").GetString());

        // Commands have nowhere to go.
        (status, body) = await host.ExecuteAsync("takeoff");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("unknown_drone", body.GetProperty("code").GetString());
        Assert.Contains("no drone is configured", body.GetProperty("error").GetString());
    }

    [Fact]
    public async Task A_token_in_the_websocket_url_reaches_no_log_line_even_with_every_category_at_trace()
    {
        const string wrongSecret = "SECRET-not-a-token-5f3a";
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(new FakeDroneLink("tello-1")), output, ApiHost.TokenSettings(),
            frameworkLogLevel: LogLevel.Trace);

        using (var ok = await host.ConnectAsync(ApiHost.PilotToken))
        {
            Assert.Equal("pilot", ok.Established.GetProperty("role").GetString());
            await ok.SendAsync(new { type = "ping", timestamp = 1 });
            await ok.ReceiveTypeAsync("pong");
            await ok.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WithTimeout();
        }

        using (var bad = await host.ConnectAsync(wrongSecret, expectEstablished: false))
        {
            Assert.Equal("unauthorized", (await bad.ReceiveAsync()).GetProperty("code").GetString());
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await bad.ReceiveCloseAsync());
        }

        // HTTP ignores ?token=, but a client may still put it there.
        await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status?token=" + wrongSecret));
        await host.DisposeAsync(); // flushes the shutdown log lines too

        var lines = host.Logs.Entries;
        // The capture works: ASP.NET Core's own Debug/Trace lines are there.
        Assert.Contains(lines, e => e.Category.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) && e.Level <= LogLevel.Debug);
        foreach (var secret in new[] { ApiHost.PilotToken, wrongSecret, "token=" })
        {
            var leaks = lines.Where(e => e.Message.Contains(secret, StringComparison.Ordinal) || (e.Error?.ToString().Contains(secret) ?? false)).ToList();
            Assert.True(leaks.Count == 0, $"\"{secret}\" was logged:\n" + string.Join("\n", leaks.Select(e => $"[{e.Category}] {e.Message}")));
        }
    }
}
