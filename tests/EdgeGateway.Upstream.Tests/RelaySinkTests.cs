using System.Diagnostics;
using System.Text.Json;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Relay;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

public sealed class RelaySinkTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    private RelaySink Sink(string url, string token, Action<RelaySinkOptions>? configure = null)
    {
        var o = new RelaySinkOptions
        {
            Enabled = true,
            Url = url,
            Token = token,
            KeepAlive = TimeSpan.FromSeconds(2),
            PingTimeout = TimeSpan.FromSeconds(5),
            AckTimeout = TimeSpan.FromSeconds(60),
            Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(1),
                RefusedDelay = TimeSpan.FromMilliseconds(800),
                StableAfter = TimeSpan.FromSeconds(30),
            },
        };
        configure?.Invoke(o);
        Assert.Empty(o.Validate("Upstream:Relay"));
        var sink = new RelaySink(o, "gw1", TimeProvider.System, _logs.CreateFactory().CreateLogger<RelaySink>(), _metrics);
        sink.Start();
        return sink;
    }

    [Fact]
    public async Task Records_reach_the_receiver_with_ids_and_the_cursor_follows_its_acks()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var sink = Sink(server.Url, "s3cret");
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 300; i++)
        {
            await rig.WriteAsync(i % 2 == 0 ? "drone/tello-1/state" : "sensor/gps0", i);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})");
        var records = server.Receiver.Records;
        Assert.Equal(rig.Written, records.Select(r => r.Sequence).Distinct().Order());
        var r7 = records.First(r => r.Sequence == rig.Written[6]);
        Assert.Equal($"gw1:{rig.Written[6]}", r7.Id);
        Assert.Equal("gw1", r7.Gateway);
        Assert.Equal("sensor/gps0", r7.Stream);
        Assert.Equal("drone_state", r7.Kind);
        Assert.Equal("ntp", r7.TimeSource);
        Assert.Equal(7, JsonDocument.Parse(r7.PayloadJson).RootElement.GetProperty("n").GetInt32());
        Assert.True(DateTimeOffset.TryParse(r7.Time, out _), r7.Time);
        Assert.True(sink.IsConnected);
        Assert.Equal(300, sink.Acknowledged);
        Assert.Equal(0, sink.Inflight);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Stopping_the_sink_closes_the_connection_with_code_1000_not_an_abort()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var sink = Sink(server.Url, "s3cret");
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 50; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, "records flow, so a receive is pending on the socket");
        var stopping = Stopwatch.StartNew();
        await sink.StopAsync().WithTimeout();
        stopping.Stop();
        await TaskTimeouts.Eventually(() => server.Receiver.CloseCodes.Count == 1, "the receiver saw the connection end");
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, server.Receiver.CloseCodes[0]);
        Assert.Equal(0, server.Receiver.ActiveConnections);
        // The receiver answered at once: the stop did not sit out the abort deadline.
        Assert.True(stopping.Elapsed < RelaySink.StopCloseTimeout, $"stop took {stopping.Elapsed}");
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Sink_reconnects_after_the_receiver_drops_the_connection_and_nothing_is_lost()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var sink = Sink(server.Url, "s3cret");
        await using var rig = new BufferRig(sink, _logs);
        long n = 0;
        for (var drop = 0; drop < 3; drop++)
        {
            for (var i = 0; i < 100; i++)
            {
                await rig.WriteAsync("drone/tello-1/state", ++n);
            }

            await TaskTimeouts.Eventually(() => server.Receiver.ActiveConnections == 1 && server.Receiver.Records.Count > 0, "a live connection");
            server.Receiver.DropConnections();
        }

        for (var i = 0; i < 100; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", ++n);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(30));
        Assert.Equal(rig.Written, server.Receiver.Records.Select(r => r.Sequence).Distinct().Order());
        Assert.True(server.Receiver.Connections >= 4, $"connections {server.Receiver.Connections}");
        Assert.True(sink.Reconnects >= 3, $"reconnects {sink.Reconnects}");
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Receiver_that_stops_acknowledging_gets_no_more_than_the_inflight_window_and_nothing_is_lost()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        server.Receiver.AcknowledgeEnabled = false;
        await using var sink = Sink(server.Url, "s3cret");
        await using var rig = new BufferRig(sink, _logs, f =>
        {
            f.InflightWindow = 50;
            f.BatchSize = 20;
        });
        for (var i = 1; i <= 300; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => server.Receiver.Records.Count >= 50, "the window is sent");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var seen = server.Receiver.Records.Select(r => r.Sequence).Distinct().ToList();
        Assert.Equal(50, seen.Count);
        Assert.Equal(rig.Written[49], seen.Max());
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        Assert.Equal(50, sink.Inflight);

        // A slow receiver, then a normal one: everything arrives and the cursor catches up.
        server.Receiver.AckDelay = TimeSpan.FromMilliseconds(20);
        server.Receiver.AcknowledgeEnabled = true;
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(30));
        Assert.Equal(rig.Written, server.Receiver.Records.Select(r => r.Sequence).Distinct().Order());
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Sink_drops_a_connection_whose_receiver_never_acknowledges_and_resends_on_the_next()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        server.Receiver.AcknowledgeEnabled = false;
        await using var sink = Sink(server.Url, "s3cret", o => o.AckTimeout = TimeSpan.FromSeconds(1));
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 20; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => server.Receiver.Connections >= 2, "a second connection after the ack timeout");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 6503 && e.Message.Contains("no acknowledgement within", StringComparison.Ordinal));
        server.Receiver.AcknowledgeEnabled = true;
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})");
        // The resend on the new connection brought duplicates, as at-least-once allows.
        Assert.True(server.Receiver.Records.Count > 20);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Wrong_token_is_refused_with_a_clear_error_and_a_long_backoff()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var sink = Sink(server.Url, "wrong-token");
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var started = Stopwatch.StartNew();
        await TaskTimeouts.Eventually(() => server.Receiver.Refused >= 2, "two refused attempts");
        var elapsed = started.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(1));
        // RefusedDelay is 0.8 s (normal backoff would be 0.1 s): no hot loop against a receiver that says no.
        Assert.True(server.Receiver.Refused <= 4, $"{server.Receiver.Refused} attempts in {elapsed + TimeSpan.FromSeconds(1)}");
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(700), $"second attempt after {elapsed}");
        Assert.Equal(0, server.Receiver.Connections);
        Assert.Empty(server.Receiver.Records);
        Assert.False(sink.IsConnected);
        Assert.Contains("HTTP 401", sink.LastError, StringComparison.Ordinal);
        Assert.Contains("refused the token", sink.LastError, StringComparison.Ordinal);
        var refused = _logs.Entries.Where(e => e.Id.Id == 6502).ToList();
        Assert.NotEmpty(refused);
        Assert.All(refused, e => Assert.DoesNotContain("wrong-token", e.Message, StringComparison.Ordinal));
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused us", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_websocket_server_that_does_not_select_the_relay_subprotocol_is_refused()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var sink = Sink(server.Url.Replace("/relay", "/plain", StringComparison.Ordinal), "s3cret");
        await TaskTimeouts.Eventually(() => sink.LastError?.Contains("did not select the subprotocol", StringComparison.Ordinal) == true,
            $"subprotocol refusal reported (is {sink.LastError})");
        Assert.False(sink.IsConnected);
        Assert.Equal(0, sink.Connects);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused us", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_url_without_a_receiver_is_reported_as_http_404()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        // Not the relay endpoint: Kestrel answers 404 to the upgrade.
        await using var sink = Sink(server.Url.Replace("/relay", "/nothing-here", StringComparison.Ordinal), "s3cret");
        await TaskTimeouts.Eventually(() => sink.LastError?.Contains("HTTP 404", StringComparison.Ordinal) == true, $"404 reported (is {sink.LastError})");
        Assert.False(sink.IsConnected);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused us", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Metrics_and_health_show_connection_acks_inflight_and_lag()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        server.Receiver.AcknowledgeEnabled = false;
        await using var sink = Sink(server.Url, "s3cret");
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        var values = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        listener.InstrumentPublished = (i, l) =>
        {
            if (ReferenceEquals(i.Meter, _metrics.Meter) && i.Meter.Name == UpstreamMetrics.MeterName)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        void Record(System.Diagnostics.Metrics.Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var t in tags)
            {
                if (t.Key == "sink" && (string?)t.Value == sink.Name)
                {
                    if (i is System.Diagnostics.Metrics.Counter<long>)
                    {
                        values.AddOrUpdate(i.Name, v, (_, old) => old + v);
                    }
                    else
                    {
                        values[i.Name] = v;
                    }
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 10; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => server.Receiver.Records.Count == 10, "10 records received");
        await Task.Delay(300);
        listener.RecordObservableInstruments();
        Assert.Equal(1, values["edge_upstream_connected"]);
        Assert.Equal(10, values["edge_upstream_inflight_records"]);
        Assert.True(values["edge_upstream_lag_seconds"] > 0.2, $"lag {values["edge_upstream_lag_seconds"]}");
        var health = new UpstreamHealth([sink], TimeProvider.System).Report().Single();
        Assert.Equal(EdgeGateway.Health.HealthState.Healthy, health.State);
        Assert.Equal("upstream/relay", health.Component);

        server.Receiver.AcknowledgeEnabled = true;
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, "all acknowledged");
        listener.RecordObservableInstruments();
        Assert.Equal(10, values["edge_upstream_acked_records"]);
        Assert.Equal(10, values["edge_upstream_sent_records"]);
        Assert.Equal(0, values["edge_upstream_inflight_records"]);
        Assert.Equal(0, values["edge_upstream_lag_seconds"]);
        _logs.AssertNoUnexpectedErrors();
    }

    public void Dispose() => _metrics.Dispose();
}
