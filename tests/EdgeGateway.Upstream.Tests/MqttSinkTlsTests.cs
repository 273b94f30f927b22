using System.Globalization;
using EdgeGateway.Health;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>The MQTT sink over mqtts:// to a real Mosquitto whose TLS listeners use a CA generated in the test.</summary>
public sealed class MqttSinkTlsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int MqttConnectFailed = 6001;
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();
    private readonly TempDir _dir = StoreDir.Create();
    private TestTlsCertificates _certs = null!;
    private TestTlsCertificates _otherCa = null!;
    private Mosquitto _broker = null!;
    private int _tlsPort;
    private int _mtlsPort;

    public async Task InitializeAsync()
    {
        _certs = TestTlsCertificates.Create(Path.Combine(_dir.Path, "certs"), "edge");
        _otherCa = TestTlsCertificates.Create(Path.Combine(_dir.Path, "other"), "other");
        _tlsPort = FreePort.Tcp();
        _mtlsPort = FreePort.Tcp();
        var c = _certs;
        // The plain listener (Mosquitto.StartAsync) stays for the verifying subscriber; one TLS and one mutual-TLS listener.
        _broker = await Mosquitto.StartAsync(string.Join('\n',
            $"listener {_tlsPort} 127.0.0.1",
            $"cafile {c.CaFile}", $"certfile {c.ServerCertificateFile}", $"keyfile {c.ServerKeyFile}",
            $"listener {_mtlsPort} 127.0.0.1",
            $"cafile {c.CaFile}", $"certfile {c.ServerCertificateFile}", $"keyfile {c.ServerKeyFile}",
            "require_certificate true"));
        await TaskTimeouts.Eventually(() => Listening(_tlsPort) && Listening(_mtlsPort), "mosquitto's TLS listeners accept TCP");
    }

    public async Task DisposeAsync()
    {
        await _broker.DisposeAsync();
        _metrics.Dispose();
        _dir.Dispose();
    }

    private MqttSink Sink(int port, Action<MqttTlsOptions> tls, Action<MqttBackoffOptions>? backoff = null)
    {
        var o = new MqttSinkOptions
        {
            Enabled = true,
            Host = "127.0.0.1",
            Port = port,
            ClientId = "edgegw-tls-" + Guid.NewGuid().ToString("N")[..8],
            KeepAlive = TimeSpan.FromSeconds(60),
            AckTimeout = TimeSpan.FromSeconds(60),
            // Generous under CPU load: a handshake on a busy 2-core machine can take seconds.
            ConnectTimeout = TimeSpan.FromSeconds(15),
            Tls = new MqttTlsOptions { Enabled = true },
            Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(1),
                RefusedDelay = TimeSpan.FromMinutes(1),
            },
        };
        tls(o.Tls);
        backoff?.Invoke(o.Backoff);
        Assert.Empty(o.Validate("Upstream:Mqtt"));
        var sink = new MqttSink(o, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics);
        sink.Start();
        return sink;
    }

    private async Task DeliversAsync(MqttSink sink)
    {
        var (subscriber, got) = await MqttSinkTests.SubscribeAsync(_broker.Port, "edge/gw1/#");
        await using var _ = subscriber;
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 50; i++)
        {
            await rig.WriteAsync("drone/tello-1/state", i);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor})");
        await TaskTimeouts.Eventually(() => got.Count(m => m.Topic == "edge/gw1/drone/tello-1/state") >= 50, "the subscriber got 50 records");
        var seqs = got.Where(m => m.Topic == "edge/gw1/drone/tello-1/state")
            .Select(m => long.Parse(m.UserProperties.Single(p => p.Name == "seq").Value, CultureInfo.InvariantCulture));
        Assert.Equal(rig.Written, seqs.Distinct().Order());
        Assert.True(sink.IsConnected);
        Assert.Equal(50, sink.Acknowledged);
    }

    [Fact]
    public async Task Mqtts_with_the_generated_ca_delivers_records_and_the_cursor_follows_pubacks()
    {
        await using var sink = Sink(_tlsPort, t => t.CaFile = _certs.CaFile);
        await DeliversAsync(sink);
        Assert.Contains("New connection from 127.0.0.1", _broker.SafeLog(), StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Mqtts_with_a_wrong_ca_does_not_connect_reports_the_certificate_error_in_health_and_backs_off_long()
    {
        await using var sink = Sink(_tlsPort, t => t.CaFile = _otherCa.CaFile);
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var health = new UpstreamHealth([sink], TimeProvider.System);

        await TaskTimeouts.Eventually(() => sink.LastError?.Contains("does not chain to the configured CA", StringComparison.Ordinal) == true,
            $"the sink reports the certificate problem (last error: {sink.LastError})", TimeSpan.FromSeconds(20));
        var entry = Assert.Single(health.Report());
        Assert.Equal("upstream/mqtt", entry.Component);
        Assert.Equal(HealthState.Degraded, entry.State);
        Assert.Contains("does not chain to the configured CA (Tls:CaFile)", entry.Summary, StringComparison.Ordinal);

        // A certificate failure is a refusal: the next attempt waits RefusedDelay (1 min), not the 100 ms initial delay.
        await Task.Delay(TimeSpan.FromSeconds(4));
        var attempts = _logs.Entries.Count(e => e.Id.Id == MqttConnectFailed);
        Assert.Equal(1, attempts);
        Assert.Contains(_logs.Entries, e => e.Message.Contains("refused", StringComparison.OrdinalIgnoreCase)
            && e.Message.Contains("does not chain to the configured CA", StringComparison.Ordinal));
        Assert.False(sink.IsConnected);
        Assert.Equal(0, sink.Connects);
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("does not chain to the configured CA", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Mutual_tls_with_the_client_certificate_delivers_records()
    {
        await using var sink = Sink(_mtlsPort, t =>
        {
            t.CaFile = _certs.CaFile;
            t.ClientCertificateFile = _certs.ClientCertificateFile;
            t.ClientKeyFile = _certs.ClientKeyFile;
        });
        await DeliversAsync(sink);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Mutual_tls_without_a_client_certificate_never_connects_reports_why_and_backs_off()
    {
        // Under TLS 1.3 the broker's "certificate required" alert arrives after the client finished its handshake, so
        // the client sees the connection close before CONNACK (a network-class failure with exponential backoff);
        // under TLS 1.2 the handshake itself fails (a refusal with the long delay). Both must pace the retries.
        await using var sink = Sink(_mtlsPort, t => t.CaFile = _certs.CaFile, b =>
        {
            b.InitialDelay = TimeSpan.FromMilliseconds(500);
            b.MaxDelay = TimeSpan.FromSeconds(10);
        });
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var health = new UpstreamHealth([sink], TimeProvider.System);

        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == MqttConnectFailed), "a failed connect is logged", TimeSpan.FromSeconds(20));
        var first = _logs.Entries.First(e => e.Id.Id == MqttConnectFailed).Message;
        Assert.Matches("ClosedBeforeConnAck|TlsHandshakeFailed", first);
        await TaskTimeouts.Eventually(() => sink.LastError is { } e && e.Contains("ClosedBeforeConnAck", StringComparison.Ordinal)
            || sink.LastError?.Contains("TlsHandshakeFailed", StringComparison.Ordinal) == true, $"health names the failure (last error: {sink.LastError})");
        var entry = Assert.Single(health.Report());
        Assert.Equal(HealthState.Degraded, entry.State);
        Assert.Matches("ClosedBeforeConnAck|TlsHandshakeFailed", entry.Summary);

        // 500 ms doubling (±25 %): at most 0, 0.5, 1.5, 3.5 s in 4 s; a hot loop would make hundreds of attempts.
        await Task.Delay(TimeSpan.FromSeconds(4));
        var attempts = _logs.Entries.Count(e => e.Id.Id == MqttConnectFailed);
        Assert.InRange(attempts, 1, 5);
        Assert.Equal(0, sink.Connects);
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused", StringComparison.OrdinalIgnoreCase));
    }

    private static bool Listening(int port)
    {
        try
        {
            using var c = new System.Net.Sockets.TcpClient();
            c.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
