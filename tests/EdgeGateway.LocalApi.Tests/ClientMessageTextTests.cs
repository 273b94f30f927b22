using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using EdgeGateway.LocalApi.Hub;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// Strings that are JSON but not text: a lone surrogate escape (<c>"\ud800"</c>) passes the WebSocket's UTF-8 check,
/// and an HTTP body is not checked at all. System.Text.Json only fails when such a string is read, with an
/// InvalidOperationException that used to escape the session (found by fuzzing, issue 11; inputs in fuzz/corpus/localapi).
/// </summary>
public sealed class ClientMessageTextTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("""{"type":"\ud800"}""")]
    [InlineData("""{"type":"ping","request_id":"\udc00"}""")]
    [InlineData("""{"type":"ping","timestamp":["\ud800"]}""")]
    [InlineData("""{"type":"command","action":"\ud800"}""")]
    public void A_string_that_is_not_text_is_invalid_json(string frame)
    {
        Assert.Equal(ClientMessageError.InvalidJson, ClientMessageReader.TryRead(Encoding.UTF8.GetBytes(frame), out var message, out var detail));
        Assert.Null(message);
        Assert.NotNull(detail);
    }

    [Fact]
    public void Invalid_utf8_in_a_string_is_invalid_json()
    {
        byte[] body = [.. """{"action":"takeoff","drone_id":"t"""u8, 0xFF, .. "\"}"u8];
        Assert.Equal(ClientMessageError.InvalidJson, ClientMessageReader.TryRead(body, out _, out _));
    }

    [Fact]
    public async Task A_frame_with_a_lone_surrogate_gets_invalid_json_and_the_connection_stays_open()
    {
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(new FakeDroneLink("tello-1")), output);
        using var ws = await host.ConnectAsync();
        await ws.SendTextAsync("""{"type":"ping","request_id":"\udc00"}""");
        Assert.Equal("invalid_json", (await ws.ReceiveAsync()).GetProperty("code").GetString());

        // A parameter that is not text is an invalid parameter, not an internal error.
        await ws.SendTextAsync("""{"type":"command","action":"move_up","drone_id":"tello-1","parameters":{"distance":"\ud800"}}""");
        var result = await ws.ReceiveAsync();
        Assert.NotEqual("internal", result.TryGetProperty("code", out var code) ? code.GetString() : null);

        await ws.SendAsync(new { type = "ping", timestamp = 1 });
        Assert.Equal("pong", (await ws.ReceiveTypeAsync("pong")).GetProperty("type").GetString());
    }

    [Fact]
    public async Task An_execute_body_with_invalid_utf8_is_400_invalid_json()
    {
        await using var host = await ApiHost.StartAsync(new FakeDroneFleet(new FakeDroneLink("tello-1")), output);
        var request = host.Request(HttpMethod.Post, "/api/drone/execute");
        request.Content = new ByteArrayContent([.. """{"action":"takeoff","drone_id":"tello"""u8, 0xFF, .. "\"}"u8]);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        var (status, body) = await host.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_json", body.GetProperty("code").GetString());
    }
}
