using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>The <c>edge_localapi_*</c> instruments, read with a MeterListener on this host's own meter.</summary>
public sealed class MetricsTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    [Fact]
    public async Task Connections_messages_commands_and_disconnect_reasons_are_measured()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output);
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<IMeterFactory>());

        using (var ws = await host.ConnectAsync())
        {
            Assert.Equal(1, metrics.Sum("edge_localapi_ws_connections"));
            Assert.Equal(1, metrics.Sum("edge_localapi_ws_accepted_connections"));
            await ws.SendAsync(new { type = "ping", timestamp = 1 });
            await ws.ReceiveTypeAsync("pong");
            await ws.SendAsync(new { type = "command", request_id = "c", action = "move_up", parameters = new { distance = 30 } });
            await ws.ReceiveTypeAsync("command_result");
            Assert.Equal(2, metrics.Sum("edge_localapi_ws_messages_received"));
            // connection_established, pong, command_result (the counter moves after each send completes).
            await TaskTimeouts.Eventually(() => metrics.Sum("edge_localapi_ws_messages_sent") == 3, "three messages counted as sent");

            var latency = Assert.Single(metrics.Measurements("edge_localapi_command_duration_seconds"));
            Assert.Equal("move_up", latency.Tags["action"]);
            Assert.Equal("ok", latency.Tags["outcome"]);
            Assert.InRange(latency.Value, 0, 60);
            Assert.Contains(metrics.Measurements("edge_localapi_commands"), m => (string?)m.Tags["action"] == "move_up" && (string?)m.Tags["outcome"] == "ok");

            await ws.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).WithTimeout();
        }

        await TaskTimeouts.Eventually(() => metrics.Sum("edge_localapi_ws_connections") == 0, "the connection gauge went back down");
        Assert.Equal(["client_closed"], metrics.Measurements("edge_localapi_ws_disconnects").Select(m => (string?)m.Tags["reason"]));

        var (status, _) = await host.SendAsync(host.Request(HttpMethod.Get, "/api/drone/status"));
        Assert.Equal(System.Net.HttpStatusCode.OK, status);
        // Counted when the handler finishes, which may be just after the client has the response.
        await TaskTimeouts.Eventually(() => metrics.Measurements("edge_localapi_http_requests").Count == 1, "the request is counted");
        var http = Assert.Single(metrics.Measurements("edge_localapi_http_requests"));
        Assert.Equal("status", http.Tags["route"]);
        Assert.Equal(200, http.Tags["status"]);
    }

    [Fact]
    public async Task Abuse_closes_are_counted_by_reason()
    {
        var settings = new Dictionary<string, string?>
        {
            ["LocalApi:Limits:MaxFrameBytes"] = "1024",
            ["LocalApi:Limits:MessagesPerSecond"] = "5",
            ["LocalApi:Limits:MessageBurst"] = "1",
            ["LocalApi:Limits:FloodCloseAfter"] = "2",
            ["LocalApi:Limits:MaxConnections"] = "2",
        };
        await using var host = await ApiHost.StartAsync(_fleet, output, settings, new ManualTimeProvider());
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<IMeterFactory>());

        using (var big = await host.ConnectAsync())
        {
            await big.SendTextAsync("{\"type\":\"ping\",\"pad\":\"" + new string('x', 5000) + "\"}");
            Assert.Equal(WebSocketCloseStatus.MessageTooBig, await big.ReceiveCloseAsync());
        }

        using (var flood = await host.ConnectAsync())
        {
            for (var i = 0; i < 3; i++)
            {
                await flood.SendAsync(new { type = "ping", timestamp = i });
            }

            Assert.Equal(WebSocketCloseStatus.PolicyViolation, await flood.ReceiveCloseAsync());
        }

        await TaskTimeouts.Eventually(() => metrics.Sum("edge_localapi_ws_connections") == 0, "both closed");
        using var a = await host.ConnectAsync();
        using var b = await host.ConnectAsync();
        using (var c = await host.ConnectAsync(expectEstablished: false))
        {
            Assert.Equal((WebSocketCloseStatus)1013, await c.ReceiveCloseAsync());
        }

        await TaskTimeouts.Eventually(() => metrics.Measurements("edge_localapi_ws_disconnects").Count == 3, "three disconnects counted");
        Assert.Equal(["flood", "message_too_big", "too_many_connections"],
            metrics.Measurements("edge_localapi_ws_disconnects").Select(m => (string?)m.Tags["reason"]).Order());
        Assert.Equal(2, metrics.Sum("edge_localapi_ws_connections"));
    }

    [Fact]
    public async Task A_queue_overflow_counts_one_drop_and_a_slow_consumer_disconnect()
    {
        var settings = new Dictionary<string, string?>
        {
            ["LocalApi:Limits:SendQueueCapacity"] = "4",
            ["LocalApi:Limits:SlowClientTimeoutSeconds"] = "60",
        };
        await using var host = await ApiHost.StartAsync(_fleet, output, settings);
        using var metrics = new MetricsRecorder(host.Services.GetRequiredService<IMeterFactory>());
        var hub = host.Services.GetRequiredService<Hub.LocalHub>();
        using var stuck = await host.ConnectAsync();
        await stuck.SendAsync(new { type = "subscribe", channel = "events" });
        await stuck.ReceiveTypeAsync("subscribed");
        var pad = new string('y', 200_000);
        for (var i = 0; i < 200; i++)
        {
            hub.PublishEvent("tello-1", "warning", ("message", pad));
        }

        while (await stuck.ReceiveOrCloseAsync(TimeSpan.FromSeconds(30)) is not null)
        {
        }

        Assert.Equal((WebSocketCloseStatus)1013, stuck.CloseStatus);
        await TaskTimeouts.Eventually(() => metrics.Measurements("edge_localapi_ws_disconnects").Count == 1, "the disconnect is counted");
        Assert.Equal("slow_consumer", metrics.Measurements("edge_localapi_ws_disconnects")[0].Tags["reason"]);
        // One overflow closes the client; later offers to a closing client are not counted (the instrument says so).
        Assert.Equal(1, metrics.Sum("edge_localapi_ws_messages_dropped"));
    }
}

/// <summary>Records the measurements of the meter <c>EdgeGateway.LocalApi</c> created by one host's meter factory.</summary>
internal sealed class MetricsRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> _measurements = new();

    public MetricsRecorder(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            // Other hosts in this test run have a meter of the same name: only this host's factory's counts.
            if (instrument.Meter.Name == LocalApiMetrics.MeterName && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
        _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
        _listener.Start();
    }

    public double Sum(string name) => _measurements.Where(m => m.Name == name).Sum(m => m.Value);

    public IReadOnlyList<(string Name, double Value, Dictionary<string, object?> Tags)> Measurements(string name)
        => [.. _measurements.Where(m => m.Name == name)];

    private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var d = new Dictionary<string, object?>();
        foreach (var t in tags)
        {
            d[t.Key] = t.Value;
        }

        _measurements.Enqueue((instrument.Name, value, d));
    }

    public void Dispose() => _listener.Dispose();
}
