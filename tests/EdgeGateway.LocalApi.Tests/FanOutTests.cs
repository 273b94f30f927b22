using System.Net;
using System.Net.WebSockets;
using System.Text;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// The fan-out path under more updates than a client can take: the updates of one drone keep their order and the
/// newest always arrives (latest-wins), and commands never wait behind the fan-out.
/// </summary>
public sealed class FanOutTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private static byte[] Update(int seq, int padding = 0)
        => Encoding.UTF8.GetBytes($"{{\"type\":\"status_update\",\"drone_id\":\"tello-1\",\"seq\":{seq},\"pad\":\"{new string('x', padding)}\"}}");

    [Fact]
    public async Task Updates_of_one_drone_arrive_in_order_and_the_newest_always_arrives_when_published_faster_than_sent()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        var hub = host.Services.GetRequiredService<LocalHub>();
        using var client = await host.ConnectAsync();
        await client.SendAsync(new { type = "subscribe", channel = "status_updates", drone_id = "tello-1" });
        await client.ReceiveTypeAsync("subscribed");

        // Far more than a client takes in the time: most are superseded, the rest must come in order, the last one last.
        const int count = 20_000;
        for (var i = 1; i <= count; i++)
        {
            hub.PublishUtf8(HubChannels.StatusUpdates, "tello-1", Update(i));
        }

        var last = 0;
        while (last < count)
        {
            var m = await client.ReceiveTypeAsync("status_update", m => m.TryGetProperty("seq", out _));
            var seq = m.GetProperty("seq").GetInt32();
            Assert.True(seq > last, $"update {seq} arrived after {last}");
            last = seq;
        }

        Assert.Equal(count, last);
    }

    [Fact]
    public async Task Emergency_over_http_and_websocket_reaches_the_drone_while_the_fan_out_is_saturated_and_a_move_is_queued()
    {
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _fleet[0].Hold = hold;
        await using var host = await ApiHost.StartAsync(_fleet, output, new Dictionary<string, string?>
        {
            ["LocalApi:Limits:MaxConnections"] = "300",
        });
        var hub = host.Services.GetRequiredService<LocalHub>();

        // Subscribers that never read: their sockets fill, every send to them backs up.
        var stalled = new List<ClientWebSocket>();
        for (var i = 0; i < 150; i++)
        {
            var ws = new ClientWebSocket();
            await ws.ConnectAsync(host.WsUri(), CancellationToken.None).WithTimeout();
            await ws.SendAsync("{\"type\":\"subscribe\",\"channel\":\"status_updates\"}"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout();
            stalled.Add(ws);
        }

        using var stop = new CancellationTokenSource();
        var published = 0L;
        var flood = Task.Factory.StartNew(() =>
        {
            var seq = 0;
            while (!stop.IsCancellationRequested)
            {
                hub.PublishUtf8(HubChannels.StatusUpdates, "tello-1", Update(++seq, padding: 16 * 1024));
                Interlocked.Increment(ref published);
            }
        }, TaskCreationOptions.LongRunning);
        try
        {
            using var pilot = await host.ConnectAsync();
            await pilot.SendAsync(new { type = "command", request_id = "move", action = "move_up", parameters = new { distance = 30 } });
            await WaitUntilAsync(() => _fleet[0].Sent.Contains("up 30"));
            var before = Interlocked.Read(ref published);
            await WaitUntilAsync(() => Interlocked.Read(ref published) > before + 1000); // the flood is running

            await pilot.SendAsync(new { type = "command", request_id = "e", action = "emergency" });
            var result = await pilot.ReceiveTypeAsync("command_result", m => m.GetProperty("request_id").GetString() == "e");
            Assert.True(result.GetProperty("success").GetBoolean());

            var (status, body) = await host.ExecuteAsync("emergency");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(body.GetProperty("success").GetBoolean());

            // Both emergencies went out while the move still waits for the drone and the flood still runs.
            Assert.Equal(2, _fleet[0].Sent.Count(c => c == "emergency"));
            Assert.False(hold.Task.IsCompleted);
            Assert.False(flood.IsCompleted);
        }
        finally
        {
            stop.Cancel();
            await flood.WithTimeout();
            hold.TrySetResult();
            foreach (var ws in stalled)
            {
                ws.Abort();
                ws.Dispose();
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = Deadline.In(TaskTimeouts.Default);
        while (!condition())
        {
            Assert.False(deadline.Passed, "condition not met in time");
            await Task.Delay(10);
        }
    }
}
