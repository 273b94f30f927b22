using System.Text.Json;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using EdgeGateway.Upstream.Relay;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

public sealed class BothSinksTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    [Fact]
    public async Task Mqtt_and_relay_run_together_each_with_its_own_cursor()
    {
        await using var broker = await Mosquitto.StartAsync();
        var (subscriber, got) = await MqttSinkTests.SubscribeAsync(broker.Port, "edge/gw1/drone/#");
        await using var _ = subscriber;
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        server.Receiver.AcknowledgeEnabled = false;
        var loggers = _logs.CreateFactory();
        await using var mqtt = new MqttSink(new MqttSinkOptions { Enabled = true, Port = broker.Port, ClientId = "edgegw-both" }, "gw1",
            TimeProvider.System, loggers, _metrics);
        await using var relay = new RelaySink(new RelaySinkOptions { Enabled = true, Url = server.Url, Token = "s3cret" }, "gw1",
            TimeProvider.System, loggers.CreateLogger<RelaySink>(), _metrics);
        mqtt.Start();
        relay.Start();
        await using var rig = new BufferRig(mqtt, _logs);
        var relayForwarder = new UpstreamForwarder(rig.Buffer, relay, new SinkForwardingOptions { LiveShare = 0, InflightWindow = 100 },
            TimeProvider.System, loggers.CreateLogger<UpstreamForwarder>());
        await using var __ = relayForwarder;
        relayForwarder.Start();
        for (var i = 1; i <= 50; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        // The relay's receiver does not ack: its cursor stays while the MQTT cursor reaches the end.
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, "the MQTT cursor reaches the end");
        await TaskTimeouts.Eventually(() => server.Receiver.Records.Count >= 50, "the relay got the records");
        Assert.Equal(rig.Start, relayForwarder.Cursor);
        server.Receiver.AcknowledgeEnabled = true;
        await TaskTimeouts.Eventually(() => relayForwarder.Cursor == rig.Last, "the relay cursor reaches the end");
        Assert.Equal(rig.Written, got.Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64()).Distinct().Order());
        Assert.Equal(rig.Written, server.Receiver.Records.Select(r => r.Sequence).Distinct().Order());
        _logs.AssertNoUnexpectedErrors();
    }

    public void Dispose() => _metrics.Dispose();
}
