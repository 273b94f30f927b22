using System.Text.Json;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Microsoft.Extensions.Configuration;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// The sink configured from <c>--upstream mqtt+wss://…</c> against Mosquitto's TLS WebSocket listener, through a TCP
/// proxy that cuts the link mid-stream and across a graceful broker restart: nothing lost, order kept on first delivery.
/// </summary>
public sealed class MqttOverWebSocketSinkTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    [Theory]
    [InlineData("mqtt+wss")]
    [InlineData("mqtt+ws")]
    public async Task Store_and_forward_over_websocket_loses_nothing_through_cuts_and_a_broker_restart(string scheme)
    {
        using var certDir = new TempDir("eg-ws-certs-");
        var certs = TestTlsCertificates.Create(certDir.Path, "ws");
        var wsPort = FreePort.Tcp();
        var tls = scheme == "mqtt+wss"
            ? $"\ncafile {certs.CaFile}\ncertfile {certs.ServerCertificateFile}\nkeyfile {certs.ServerKeyFile}"
            : "";
        // Mosquitto 2.0.11 needs a TCP listener beside the WebSocket one (the verifier uses it).
        await using var broker = await Mosquitto.StartAsync($"listener {wsPort} 127.0.0.1\nprotocol websockets{tls}");
        var verifierId = "verifier-" + Guid.NewGuid().ToString("N")[..8];
        await using var verifier = new MosquittoSub(broker.Port, verifierId, "edge/gw1/#");
        await TaskTimeouts.Eventually(() => broker.SafeLog().Contains($"SUBACK to {verifierId}", StringComparison.Ordinal), "the verifier subscribed");
        await using var proxy = new FaultProxy(wsPort);

        var url = $"{scheme}://localhost:{proxy.Port}/mqtt";
        var config = UpstreamUrl.ToConfiguration([url], out var errors, _ => null);
        Assert.Empty(errors);
        var options = new ConfigurationBuilder().AddInMemoryCollection(config).Build().GetSection("Upstream:Mqtt").Get<MqttSinkOptions>()!;
        Assert.True(options.WebSocket.Enabled);
        Assert.Equal("/mqtt", options.WebSocket.Path);
        Assert.Equal(scheme == "mqtt+wss", options.Tls.Enabled);
        options.Tls.CaFile = certs.CaFile;
        options.WebSocket.UseProxy = false;
        options.ClientId = "edgegw-ws-" + Guid.NewGuid().ToString("N")[..8];
        options.StatusTopic = "";
        options.KeepAlive = TimeSpan.FromSeconds(2);
        options.PingTimeout = TimeSpan.FromSeconds(2);
        options.AckTimeout = TimeSpan.FromSeconds(3);
        options.ConnectTimeout = TimeSpan.FromSeconds(3);
        options.Backoff = new MqttBackoffOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1), SuspectTakeoverCloses = 0,
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
                await Task.Delay(2);
            }
        });

        long connectsBefore = 0;
        async Task Fault(string what, Func<Task> fault)
        {
            await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Connects > connectsBefore, $"connected before {what}", TimeSpan.FromSeconds(20));
            // Let records flow on this connection, then break it with some in flight.
            var cursor = rig.Forwarder.Cursor;
            await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor > cursor + 50, $"records acknowledged before {what}", TimeSpan.FromSeconds(20));
            output.WriteLine($"--- {what}");
            connectsBefore = sink.Connects;
            await fault();
        }

        for (var i = 0; i < 4; i++)
        {
            await Fault($"cut {i}", () =>
            {
                proxy.Cut();
                return Task.CompletedTask;
            });
        }

        await Fault("graceful broker restart", async () =>
        {
            await broker.StopGracefullyAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            await broker.LaunchAsync();
        });
        await TaskTimeouts.Eventually(() => sink.IsConnected && sink.Connects > connectsBefore, "connected after the restart", TimeSpan.FromSeconds(20));
        await producing.CancelAsync();
        await producer.WithTimeout();

        var written = rig.Written.ToHashSet();
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(60));
        await TaskTimeouts.Eventually(() => Received(verifier).Select(r => r.Seq).ToHashSet().IsSupersetOf(written),
            $"the verifier has all {written.Count} sequences (has {Received(verifier).Select(r => r.Seq).Distinct().Count()})", TimeSpan.FromSeconds(60));

        var received = Received(verifier);
        var orderViolations = 0;
        foreach (var stream in received.GroupBy(r => r.Topic))
        {
            long max = 0;
            var seen = new HashSet<long>();
            foreach (var (_, seq) in stream)
            {
                // A sequence seen for the first time must be above every earlier one of its stream.
                orderViolations += seq > max || seen.Contains(seq) ? 0 : 1;
                seen.Add(seq);
                max = Math.Max(max, seq);
            }
        }

        var duplicates = received.Count - received.Select(r => r.Seq).Distinct().Count();
        output.WriteLine($"{written.Count} records, {received.Count} messages, {duplicates} duplicates, {sink.Reconnects} reconnects, {proxy.Connections} connections");
        Assert.Equal(0, orderViolations);
        Assert.DoesNotContain(received, r => !written.Contains(r.Seq));
        Assert.True(sink.Reconnects >= 5, $"reconnects {sink.Reconnects}");
        Assert.Contains("New client connected", broker.SafeLog(), StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors();
    }

    private static List<(string Topic, long Seq)> Received(MosquittoSub verifier) =>
        [.. verifier.Lines.Select(l => (l.Topic, JsonDocument.Parse(l.Payload).RootElement.GetProperty("seq").GetInt64()))];

    public void Dispose() => _metrics.Dispose();
}
