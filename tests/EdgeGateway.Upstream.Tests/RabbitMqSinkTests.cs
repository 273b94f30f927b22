using Microsoft.Extensions.Logging;
using System.Text.Json;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// The MQTT sink against a second broker: RabbitMQ 3.10's MQTT plugin (MQTT 3.1.1 only), with mosquitto_sub as the
/// persistent QoS 1 subscriber on RabbitMQ's MQTT port.
/// </summary>
[Collection("rabbitmq")]
public sealed class RabbitMqSinkTests(RabbitMq rabbit, ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    private MqttSinkOptions Options(string clientId) => new()
    {
        Enabled = true,
        Port = rabbit.MqttPort,
        ClientId = clientId,
        ProtocolVersion = MqttProtocolVersion.V311,
        KeepAlive = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        AckTimeout = TimeSpan.FromSeconds(10),
        Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
    };

    private async Task<MosquittoSub> VerifierAsync(string gateway)
    {
        var id = "verifier-" + Guid.NewGuid().ToString("N")[..8];
        var verifier = new MosquittoSub(rabbit.MqttPort, id, $"edge/{gateway}/#");
        // RabbitMQ logs no SUBACK; a probe published after the subscription proves it is in place.
        var probe = $"edge/{gateway}/probe";
        await TaskTimeouts.Eventually(() =>
        {
            using var pub = System.Diagnostics.Process.Start(Mosquitto.Find("mosquitto_pub"),
                ["-h", "127.0.0.1", "-p", rabbit.MqttPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-q", "1", "-t", probe, "-m", "{\"seq\":0}"]);
            pub.WaitForExit();
            return verifier.Lines.Any(l => l.Topic == probe);
        }, "the verifier receives through RabbitMQ", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(500));
        return verifier;
    }

    [Fact]
    public async Task Records_published_over_mqtt_311_reach_a_subscriber_with_topics_and_the_retained_status()
    {
        var gateway = "gw" + Guid.NewGuid().ToString("N")[..6];
        await using var verifier = await VerifierAsync(gateway);
        await using var sink = new MqttSink(Options("edgegw-" + gateway), gateway, TimeProvider.System, _logs.CreateFactory(), _metrics);
        sink.Start();
        await using var rig = new BufferRig(sink, _logs);
        for (var n = 1; n <= 300; n++)
        {
            await rig.WriteAsync(n % 3 == 0 ? "sensor/gps0" : "drone/tello-1/state", n);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, () => $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(60));
        var written = rig.Written.ToHashSet();
        await TaskTimeouts.Eventually(() => Received(verifier).Select(r => r.Seq).ToHashSet().IsSupersetOf(written), "all 300 records at the subscriber", TimeSpan.FromSeconds(30));
        var received = Received(verifier);
        // '/' in MQTT topics is '.' in RabbitMQ's routing keys and back: the topics arrive as published.
        Assert.Equal(200, received.Where(r => r.Topic == $"edge/{gateway}/drone/tello-1/state").Select(r => r.Seq).Distinct().Count());
        Assert.Equal(100, received.Where(r => r.Topic == $"edge/{gateway}/sensor/gps0").Select(r => r.Seq).Distinct().Count());
        Assert.Equal(0, OrderViolations(received));
        // The retained status (and the Last Will) works on RabbitMQ's retained-message store.
        Assert.Contains(verifier.Lines, l => l.Topic == $"edge/{gateway}/status" && l.Payload == "online");
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Store_and_forward_across_a_rabbitmq_restart_loses_nothing()
    {
        var gateway = "gw" + Guid.NewGuid().ToString("N")[..6];
        await using var verifier = await VerifierAsync(gateway);
        var options = Options("edgegw-" + gateway);
        options.StatusTopic = "";
        await using var sink = new MqttSink(options, gateway, TimeProvider.System, _logs.CreateFactory(), _metrics);
        sink.Start();
        await using var rig = new BufferRig(sink, _logs, f =>
        {
            f.InflightWindow = 100;
            f.BatchSize = 20;
            f.AckTimeout = TimeSpan.FromSeconds(20);
        });
        using var producing = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            long n = 0;
            while (!producing.IsCancellationRequested)
            {
                n++;
                await rig.WriteAsync(n % 3 == 0 ? "sensor/gps0" : "drone/tello-1/state", n);
                await Task.Delay(5);
            }
        });

        await TaskTimeouts.Eventually(() => sink.IsConnected && rig.Forwarder.Cursor > rig.Start + 100, "records flowing before the restart", TimeSpan.FromSeconds(30));
        var connects = sink.Connects;
        await rabbit.RestartAsync();
        output.WriteLine($"RabbitMQ restarted (start took {rabbit.LastStart.TotalSeconds:F1} s)");
        await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Connects > connects, "the sink reconnected after the restart", TimeSpan.FromSeconds(60));
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor > rig.Last - 200, "records flowing after the restart", TimeSpan.FromSeconds(60));
        await producing.CancelAsync();
        await producer.WithTimeout();

        var written = rig.Written.ToHashSet();
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, () => $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(60));
        await TaskTimeouts.Eventually(() => Received(verifier).Select(r => r.Seq).ToHashSet().IsSupersetOf(written),
            () => $"the verifier has all {written.Count} sequences (has {Received(verifier).Select(r => r.Seq).Intersect(written).Count()})", TimeSpan.FromSeconds(60));
        var received = Received(verifier);
        var duplicates = received.Count - received.Select(r => r.Seq).Distinct().Count();
        output.WriteLine($"{written.Count} records, {received.Count} messages, {duplicates} duplicates, {sink.Reconnects} reconnects");
        Assert.Equal(0, OrderViolations(received));
        Assert.DoesNotContain(received, r => !written.Contains(r.Seq));
    }

    [Fact]
    public async Task Mqtt_5_is_not_spoken_by_this_rabbitmq_and_fails_clearly_before_connack()
    {
        var options = new MqttClientOptions
        {
            Port = rabbit.MqttPort,
            ClientId = "v5-" + Guid.NewGuid().ToString("N")[..8],
            ProtocolVersion = MqttProtocolVersion.V500,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            ConnAckTimeout = TimeSpan.FromSeconds(10),
        };
        await using var client = new MqttClient(options, _logs.CreateFactory().CreateLogger<MqttClient>());
        var result = await client.ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.ClosedBeforeConnAck, result.Outcome);
    }

    private static int OrderViolations(List<(string Topic, long Seq)> received)
    {
        var violations = 0;
        foreach (var stream in received.GroupBy(r => r.Topic))
        {
            long max = 0;
            var seen = new HashSet<long>();
            foreach (var (_, seq) in stream)
            {
                violations += seq > max || seen.Contains(seq) ? 0 : 1;
                seen.Add(seq);
                max = Math.Max(max, seq);
            }
        }

        return violations;
    }

    private static List<(string Topic, long Seq)> Received(MosquittoSub verifier) =>
        [.. verifier.Lines.Where(l => l.Payload.StartsWith('{') && !l.Topic.EndsWith("/probe", StringComparison.Ordinal))
            .Select(l => (l.Topic, JsonDocument.Parse(l.Payload).RootElement.GetProperty("seq").GetInt64()))];

    public void Dispose() => _metrics.Dispose();
}
