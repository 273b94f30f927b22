using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

public sealed class MqttSinkTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    internal MqttSink Sink(int port, Action<MqttSinkOptions>? configure = null, DeadLetterStore? deadLetters = null)
    {
        var o = new MqttSinkOptions
        {
            Enabled = true,
            Host = "127.0.0.1",
            Port = port,
            ClientId = "edgegw-test-" + Guid.NewGuid().ToString("N")[..8],
            KeepAlive = TimeSpan.FromSeconds(60),
            AckTimeout = TimeSpan.FromSeconds(60),
            Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
        };
        configure?.Invoke(o);
        Assert.Empty(o.Validate("Upstream:Mqtt"));
        var sink = new MqttSink(o, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics, deadLetters: deadLetters);
        sink.Start();
        return sink;
    }

    /// <summary>A v5 subscriber from our own client library (it shows user properties and the retain flag).</summary>
    internal static async Task<(MqttClient Client, ConcurrentQueue<MqttApplicationMessage> Got)> SubscribeAsync(int port, string filter)
    {
        var got = new ConcurrentQueue<MqttApplicationMessage>();
        var client = new MqttClient(new MqttClientOptions { Port = port, ClientId = "verifier-" + Guid.NewGuid().ToString("N")[..8] })
        {
            MessageReceived = (m, _) =>
            {
                got.Enqueue(m with { Payload = m.Payload.ToArray() });
                return ValueTask.CompletedTask;
            },
        };
        Assert.True((await client.ConnectAsync().WithTimeout()).IsConnected);
        var sub = await client.SubscribeAsync([new MqttSubscription(filter)]).WithTimeout();
        Assert.Equal(SubscribeStatus.Completed, sub.Status);
        return (client, got);
    }

    [Fact]
    public async Task A_mosquitto_sub_with_the_sinks_client_id_shows_as_client_id_in_use_and_the_sink_recovers_when_it_leaves()
    {
        await using var broker = await Mosquitto.StartAsync();
        var id = "edgegw-twin-" + Guid.NewGuid().ToString("N")[..8];
        await using var sink = Sink(broker.Port, o =>
        {
            o.ClientId = id;
            o.Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1),
                TakeoverDelay = TimeSpan.FromSeconds(3), StableAfter = TimeSpan.FromSeconds(2),
            };
        });
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, "the first record is delivered");

        // A real twin: mosquitto_sub with our client id, started again 300 ms after each time it ends.
        var sub = Mosquitto.Find("mosquitto_sub");
        using var twin = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh",
            ["-c", $"while :; do '{sub}' -h 127.0.0.1 -p {broker.Port} -i {id} -t twin/x; sleep 0.3; done"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        try
        {
            await TaskTimeouts.Eventually(() => sink.LastError?.StartsWith("client id in use", StringComparison.Ordinal) == true,
                () => $"health says client id in use (last error: {sink.LastError})", TimeSpan.FromSeconds(30));
        }
        finally
        {
            twin.Kill(entireProcessTree: true);
            await twin.WaitForExitAsync().WithTimeout();
        }

        await rig.WriteAsync("drone/tello-1/state", 2);
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last && sink.IsConnected && sink.LastError is null,
            () => $"recovered once the twin left (connected {sink.IsConnected}, last error {sink.LastError})", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Records_are_published_qos1_with_id_and_sequence_in_payload_and_user_properties_and_the_cursor_follows_pubacks()
    {
        await using var broker = await Mosquitto.StartAsync();
        var (subscriber, got) = await SubscribeAsync(broker.Port, "edge/gw1/#");
        await using var _ = subscriber;
        await using var sink = Sink(broker.Port);
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 200; i++)
        {
            await rig.WriteAsync(i % 2 == 0 ? "drone/tello-1/state" : "sensor/gps0", i);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})");
        await TaskTimeouts.Eventually(() => got.Count(m => m.Topic != "edge/gw1/status") >= 200, "the subscriber got 200 records");
        var records = got.Where(m => m.Topic != "edge/gw1/status").ToList();
        Assert.All(records, m => Assert.Equal(MqttQualityOfService.AtLeastOnce, m.Qos));
        var seqs = records.Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(rig.Written, seqs.Distinct().Order());
        var third = records.Single(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64() == rig.Written[2]);
        Assert.Equal("edge/gw1/sensor/gps0", third.Topic);
        var json = JsonDocument.Parse(third.Payload).RootElement;
        Assert.Equal($"gw1:{rig.Written[2]}", json.GetProperty("id").GetString());
        Assert.Equal(3, json.GetProperty("payload").GetProperty("n").GetInt32());
        Assert.Equal("drone_state", json.GetProperty("kind").GetString());
        Assert.Contains(new MqttUserProperty("record_id", $"gw1:{rig.Written[2]}"), third.UserProperties);
        Assert.Contains(new MqttUserProperty("seq", rig.Written[2].ToString(System.Globalization.CultureInfo.InvariantCulture)), third.UserProperties);
        Assert.Equal(200, sink.Acknowledged);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Cursor_advances_only_when_the_puback_arrives()
    {
        await using var broker = await Mosquitto.StartAsync();
        var (subscriber, got) = await SubscribeAsync(broker.Port, "edge/gw1/drone/#");
        await using var _ = subscriber;
        await using var proxy = new FaultProxy(broker.Port);
        await using var sink = Sink(proxy.Port);
        await using var rig = new BufferRig(sink, _logs);
        await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Client.PendingCount == 0, "connected, status acknowledged");
        proxy.Mode = ProxyMode.DropToClient;
        for (var i = 1; i <= 10; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        // The broker has every record (the subscriber sees them) but no PUBACK reaches the gateway.
        await TaskTimeouts.Eventually(() => got.Count >= 10, "the broker delivered the records");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        Assert.Equal(10, sink.Inflight);

        proxy.Mode = ProxyMode.Forward;
        proxy.Cut();
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} after the reconnect (is {rig.Forwarder.Cursor})");
        Assert.True(sink.Reconnects >= 1);
        // Republished after the reconnect: duplicates, as QoS 1 allows; nothing missing.
        var seqs = got.Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal(rig.Written, seqs.Distinct().Order());
        Assert.True(seqs.Count >= 20, $"expected the 10 records twice, got {seqs.Count} messages");
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Status_is_retained_online_and_the_will_publishes_offline_on_an_abrupt_disconnect()
    {
        await using var broker = await Mosquitto.StartAsync();
        var (subscriber, got) = await SubscribeAsync(broker.Port, "edge/gw1/status");
        await using var _ = subscriber;
        await using var proxy = new FaultProxy(broker.Port);
        var sink = Sink(proxy.Port, o => o.KeepAlive = TimeSpan.FromSeconds(5));
        try
        {
            await TaskTimeouts.Eventually(() => got.Any(m => Text(m) == "online"), "online published");
            Assert.Equal("online", await RetainedStatusAsync(broker.Port));

            proxy.Refuse = true;
            proxy.Cut();
            await TaskTimeouts.Eventually(() => got.Any(m => Text(m) == "offline"), "the will published offline");
            Assert.Equal("offline", await RetainedStatusAsync(broker.Port));

            proxy.Refuse = false;
            await TaskTimeouts.Eventually(() => got.Count(m => Text(m) == "online") >= 2, "online again after the reconnect");
            Assert.Equal("online", await RetainedStatusAsync(broker.Port));
        }
        finally
        {
            await sink.DisposeAsync();
        }

        // A clean stop says offline itself (the broker drops the will on a normal DISCONNECT).
        Assert.Equal("offline", await RetainedStatusAsync(broker.Port));
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Batching_and_gzip_pack_several_records_of_one_stream_into_one_message()
    {
        await using var broker = await Mosquitto.StartAsync();
        var (subscriber, got) = await SubscribeAsync(broker.Port, "edge/gw1/drone/#");
        await using var _ = subscriber;
        await using var sink = Sink(broker.Port, o =>
        {
            o.BatchRecords = 10;
            o.Compression = PayloadCompression.Gzip;
            o.CompressionMinBytes = 0;
        });
        await TaskTimeouts.Eventually(() => sink.IsConnected, "connected");
        await using var rig = new BufferRig(sink, _logs, f => f.BatchSize = 50, startForwarder: false);
        for (var i = 1; i <= 50; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        rig.Forwarder.Start();

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last}");
        var messages = got.ToList();
        Assert.True(messages.Count < 50, $"{messages.Count} messages for 50 records");
        var seqs = new List<long>();
        foreach (var m in messages)
        {
            Assert.Contains(new MqttUserProperty("content-encoding", "gzip"), m.UserProperties);
            using var gz = new System.IO.Compression.GZipStream(new MemoryStream(m.Payload.ToArray()), System.IO.Compression.CompressionMode.Decompress);
            var doc = JsonDocument.Parse(gz).RootElement;
            Assert.Equal("batch", doc.GetProperty("type").GetString());
            var batch = doc.GetProperty("records").EnumerateArray().Select(r => r.GetProperty("seq").GetInt64()).ToList();
            Assert.Contains(new MqttUserProperty("count", batch.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)), m.UserProperties);
            seqs.AddRange(batch);
        }

        Assert.Equal(rig.Written, seqs.Distinct().Order());
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task A_record_too_large_for_the_broker_is_dead_lettered_and_the_stream_goes_on()
    {
        await using var broker = await Mosquitto.StartAsync("max_packet_size 2048");
        var (subscriber, got) = await SubscribeAsync(broker.Port, "edge/gw1/drone/#");
        await using var _ = subscriber;
        using var dir = StoreDir.Create();
        using var deadLetters = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 100);
        await using var sink = Sink(broker.Port, deadLetters: deadLetters);
        await TaskTimeouts.Eventually(() => sink.IsConnected, "connected");
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var big = await rig.WriteBigAsync("drone/tello-1/state", 8 * 1024);
        await rig.WriteAsync("drone/tello-1/state", 3);

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor passes the poison record (is {rig.Forwarder.Cursor})");
        await TaskTimeouts.Eventually(() => got.Count >= 2, "the records around it arrive");
        var seqs = got.Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.DoesNotContain(big, seqs);
        Assert.Contains(rig.Written[0], seqs);
        Assert.Contains(rig.Written[2], seqs);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 6602 && e.Message.Contains(big.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.Equal(0, sink.Reconnects); // no reconnect loop: the broker never saw the oversize packet
        // The payload outlives the buffer's eviction: it is in the dead-letter table with the reason.
        var row = Assert.Single(deadLetters.Read("mqtt", 0, 10));
        Assert.Equal(big, row.Sequence);
        Assert.Equal("drone/tello-1/state", row.Stream);
        Assert.Equal("PacketTooLarge", row.Reason);
        Assert.Contains("Maximum Packet Size", row.Detail, StringComparison.Ordinal);
        Assert.Equal(8 * 1024, JsonDocument.Parse(row.Payload).RootElement.GetProperty("pad").GetString()!.Length);
        Assert.Equal(1, sink.DeadLettered);
        Assert.Equal(1, sink.DeadLetterRows);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("dead-lettered", StringComparison.OrdinalIgnoreCase) || m.Contains("DeadLettered", StringComparison.Ordinal)
            || m.Contains("PacketTooLarge", StringComparison.Ordinal));
    }

    private static string Text(MqttApplicationMessage m) => Encoding.UTF8.GetString(m.Payload.Span);

    /// <summary>What a new subscriber gets as the retained status.</summary>
    private static async Task<string?> RetainedStatusAsync(int port)
    {
        var (client, got) = await SubscribeAsync(port, "edge/gw1/status");
        await using var _ = client;
        await TaskTimeouts.Eventually(() => !got.IsEmpty, "a retained status", TimeSpan.FromSeconds(5));
        var m = got.First();
        Assert.True(m.Retain);
        return Text(m);
    }

    public void Dispose() => _metrics.Dispose();
}
