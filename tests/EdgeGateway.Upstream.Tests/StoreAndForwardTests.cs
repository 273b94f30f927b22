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
            // SuspectTakeoverCloses = 0: a link cut again and again looks, to the client, like a twin with our client id
            // (the broker closing us without DISCONNECT) and would back off for minutes; this test is about the flapping link.
            Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), StableAfter = TimeSpan.FromSeconds(2), SuspectTakeoverCloses = 0,
            },
        };
        await using var sink = new MqttSink(options, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics);
        sink.Start();
        await using var rig = new BufferRig(sink, _logs, f =>
        {
            f.InflightWindow = 100;
            f.BatchSize = 20;
            f.AckTimeout = TimeSpan.FromSeconds(20);
        });

        // Every disconnect the client sees, with the forwarder's cursor (acknowledged prefix) and the last record
        // written at that moment: whatever is resent after that reconnect lies above that cursor.
        var disconnects = new System.Collections.Concurrent.ConcurrentQueue<(DisconnectKind Kind, long Cursor, int WrittenCount, string Phase)>();
        var phaseName = "start";
        sink.Client.StateChanged += change =>
        {
            if (change.Disconnect is { } d)
            {
                int writtenCount;
                lock (rig.Written)
                {
                    writtenCount = rig.Written.Count;
                }

                disconnects.Enqueue((d.Kind, rig.Forwarder.Cursor, writtenCount, Volatile.Read(ref phaseName)));
            }
        };

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
            Volatile.Write(ref phaseName, what);
            if (disconnects)
            {
                connectsBefore = sink.Connects;
            }

            await fault();
        }

        const int Cuts = 9;
        for (var i = 0; i < Cuts; i++)
        {
            await Phase($"cut {i}", () =>
            {
                proxy.Cut();
                return Task.CompletedTask;
            });
        }

        await Phase("blackhole (keepalive must notice)", async () =>
        {
            // Nothing is cut: the only way out is the client's own dead-link detection (no PINGRESP within PingTimeout,
            // or no PUBACK within AckTimeout while records are in flight).
            var seen = disconnects.Count;
            proxy.Mode = ProxyMode.Blackhole;
            await TaskTimeouts.Eventually(() => disconnects.Count > seen, "the client notices the blackholed link by itself", TimeSpan.FromSeconds(30));
            var first = disconnects.Skip(seen).First();
            Assert.True(first.Kind is DisconnectKind.KeepAliveTimeout or DisconnectKind.AckTimeout,
                $"the blackhole was noticed as {first.Kind}, not as a keepalive or ack timeout");
            proxy.Mode = ProxyMode.Forward;
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
        Assert.True(reconnects >= Cuts + 4, $"reconnects {reconnects}");
        // Duplicates come only from resends after a reconnect: at most one window per reconnect.
        Assert.True(duplicates <= (reconnects + 1) * 100, $"{duplicates} duplicates for {reconnects} reconnects");

        // ... and only at the right place: a duplicated sequence is one of the records resent right after some
        // reconnect, i.e. among the first Window records above the cursor the forwarder had when that link dropped (and
        // written by then: a record written later was never sent on the dropped link).
        // A graceful broker restart also makes the broker redeliver to the verifier what the verifier had not
        // acknowledged yet (below our cursor, within the broker's inflight window for it).
        const int Window = 100;
        var order = rig.Written.Order().ToList();
        var intervals = disconnects.Select(d =>
        {
            var i = order.BinarySearch(d.Cursor + 1);
            var above = i >= 0 ? i : ~i; // index of the first record above the cursor
            var from = d.Phase.Contains("broker restart", StringComparison.Ordinal) ? Math.Max(0, above - Window) : above;
            return (From: from, To: Math.Min(above + Window, d.WrittenCount), d.Phase, d.Kind);
        }).ToList();
        foreach (var d in disconnects)
        {
            output.WriteLine($"disconnect {d.Kind} in '{d.Phase}' at cursor {d.Cursor}");
        }

        var seenOnce = new HashSet<long>();
        foreach (var (_, seq) in received)
        {
            if (seenOnce.Add(seq))
            {
                continue;
            }

            var index = order.BinarySearch(seq);
            Assert.True(intervals.Any(w => index >= w.From && index < w.To),
                $"duplicate {seq} (record #{index}) is not within the window resent after any reconnect: " +
                string.Join(", ", intervals.Select(w => $"{w.Phase}/{w.Kind} #{w.From}..#{w.To}")));
        }
        Assert.DoesNotContain(received, r => !written.Contains(r.Seq));
        _logs.AssertNoUnexpectedErrors();
    }

    private static List<(string Topic, long Seq)> Received(MosquittoSub verifier) =>
        [.. verifier.Lines.Select(l => (l.Topic, JsonDocument.Parse(l.Payload).RootElement.GetProperty("seq").GetInt64()))];

    public void Dispose() => _metrics.Dispose();
}
