using System.Text.Json;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// The whole uplink with real peers: RecordBuffer → forwarder → MQTT sink → fault proxy → Mosquitto → a persistent
/// QoS 1 mosquitto_sub. Records flow while the link is cut, blackholed, loses PUBACKs, is slow, and while the broker
/// restarts gracefully.
/// </summary>
public sealed class StoreAndForwardTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    [Fact]
    public async Task Every_sequence_arrives_in_order_per_stream_through_cuts_blackholes_lost_pubacks_delay_and_a_broker_restart()
    {
        await using var broker = await Mosquitto.StartAsync();
        var verifierId = "verifier-" + Guid.NewGuid().ToString("N")[..8];
        await using var verifier = new MosquittoSub(broker.Port, verifierId, "edge/gw1/#");
        await TaskTimeouts.Eventually(() => broker.SafeLog().Contains($"SUBACK to {verifierId}", StringComparison.Ordinal), "the verifier subscribed");
        await using var proxy = new FaultProxy(broker.Port);
        var options = new MqttSinkOptions
        {
            Enabled = true,
            Port = proxy.Port,
            ClientId = "edgegw-sf-" + Guid.NewGuid().ToString("N")[..8],
            StatusTopic = "",
            KeepAlive = TimeSpan.FromSeconds(2),
            PingTimeout = TimeSpan.FromSeconds(2),
            AckTimeout = TimeSpan.FromSeconds(3),
            ConnectTimeout = TimeSpan.FromSeconds(3),
            Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), StableAfter = TimeSpan.FromSeconds(2) },
        };
        await using var sink = new MqttSink(options, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics);
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
                await Task.Delay(4);
            }
        });

        // Each fault starts on a connection that came up after the previous fault (not on one that is dying).
        long connectsBefore = 0;
        async Task Phase(string what, Func<Task> fault, bool disconnects = true)
        {
            await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Connects > connectsBefore, $"connected before {what}", TimeSpan.FromSeconds(20));
            await Task.Delay(400);
            output.WriteLine($"--- {what}");
            if (disconnects)
            {
                connectsBefore = sink.Connects;
            }

            await fault();
        }

        for (var i = 0; i < 3; i++)
        {
            await Phase($"cut {i}", () =>
            {
                proxy.Cut();
                return Task.CompletedTask;
            });
        }

        await Phase("blackhole (keepalive must notice)", async () =>
        {
            proxy.Mode = ProxyMode.Blackhole;
            await Task.Delay(TimeSpan.FromSeconds(5));
            proxy.Mode = ProxyMode.Forward;
            proxy.Cut();
        });
        await Phase("lost PUBACKs", async () =>
        {
            proxy.Mode = ProxyMode.DropToClient;
            await Task.Delay(TimeSpan.FromSeconds(1));
            proxy.Mode = ProxyMode.Forward;
            proxy.Cut();
        });
        await Phase("slow link", async () =>
        {
            proxy.Delay = TimeSpan.FromMilliseconds(50);
            await Task.Delay(TimeSpan.FromSeconds(1.5));
            proxy.Delay = TimeSpan.Zero;
        }, disconnects: false);
        await Phase("link down for a while (backlog builds up)", async () =>
        {
            proxy.Refuse = true;
            proxy.Cut();
            await Task.Delay(TimeSpan.FromSeconds(2));
            proxy.Refuse = false;
        });
        await Phase("graceful broker restart", async () =>
        {
            await broker.StopGracefullyAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            await broker.LaunchAsync();
        });
        await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Connects > connectsBefore, "connected after the restart", TimeSpan.FromSeconds(20));
        await Task.Delay(500);
        await producing.CancelAsync();
        await producer.WithTimeout();

        var written = rig.Written.ToHashSet();
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(60));
        await TaskTimeouts.Eventually(() => Received(verifier).Select(r => r.Seq).ToHashSet().IsSupersetOf(written),
            $"the verifier has all {written.Count} sequences (has {Received(verifier).Select(r => r.Seq).Distinct().Count()})", TimeSpan.FromSeconds(60));

        var received = Received(verifier);
        var duplicates = received.Count - received.Select(r => r.Seq).Distinct().Count();
        foreach (var stream in received.GroupBy(r => r.Topic))
        {
            // In order per stream: a sequence seen for the first time is always above every earlier one;
            // anything else is a duplicate of something already delivered (QoS 1 after a reconnect).
            long max = 0;
            var seen = new HashSet<long>();
            foreach (var (_, seq) in stream)
            {
                Assert.True(seq > max || seen.Contains(seq), $"{stream.Key}: {seq} arrived after {max} and was new (order broken)");
                seen.Add(seq);
                max = Math.Max(max, seq);
            }
        }

        foreach (var line in broker.SafeLog().Split('\n').Where(l => l.Contains(options.ClientId, StringComparison.Ordinal)
                     && !l.Contains("PUBLISH", StringComparison.Ordinal) && !l.Contains("PUBACK", StringComparison.Ordinal) && !l.Contains("PING", StringComparison.Ordinal)))
        {
            output.WriteLine("broker: " + line);
        }

        var reconnects = sink.Reconnects;
        output.WriteLine($"{written.Count} records, {received.Count} messages, {duplicates} duplicates, {reconnects} reconnects");
        Assert.True(reconnects >= 7, $"reconnects {reconnects}");
        // Duplicates come only from resends after a reconnect: at most one window per reconnect.
        Assert.True(duplicates <= (reconnects + 1) * 100, $"{duplicates} duplicates for {reconnects} reconnects");
        Assert.DoesNotContain(received, r => !written.Contains(r.Seq));
        _logs.AssertNoUnexpectedErrors();
    }

    private static List<(string Topic, long Seq)> Received(MosquittoSub verifier) =>
        [.. verifier.Lines.Select(l => (l.Topic, JsonDocument.Parse(l.Payload).RootElement.GetProperty("seq").GetInt64()))];

    public void Dispose() => _metrics.Dispose();
}
