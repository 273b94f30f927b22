using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>TLS against Mosquitto with a CA generated in the test (reference §2.3).</summary>
public sealed class TlsIntegrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);
    private MosquittoBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync(new Dictionary<string, string>
        {
            ["tls"] = "listener PORT 127.0.0.1\nallow_anonymous true\ncafile DIR/certs/ca.crt\ncertfile DIR/certs/server.crt\nkeyfile DIR/certs/server.key\ntls_version tlsv1.2",
            ["mtls"] = "listener PORT 127.0.0.1\ncafile DIR/certs/ca.crt\ncertfile DIR/certs/server.crt\nkeyfile DIR/certs/server.key\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous false",
        }, prepare: dir =>
        {
            TestCertificates.Write(Path.Combine(dir, "certs"), "");
            TestCertificates.Write(Path.Combine(dir, "other"), "");
        });
    }

    public async Task DisposeAsync()
    {
        await _clients.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private MqttClientOptions TlsOptions(string port, string host, string caDir)
    {
        var options = ClientFactory.Options(_broker.Ports[port], ClientFactory.UniqueId("tls"));
        options.Host = host;
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = Path.Combine(_broker.Directory, caDir, "ca.crt") };
        return options;
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("127.0.0.1")]
    public async Task Right_ca_connects_and_publishes(string host)
    {
        var client = await _clients.ConnectedAsync(TlsOptions("tls", host, "certs"));
        Assert.Equal(PublishStatus.Acknowledged, (await client.PublishAsync("test/tls", "x"u8.ToArray()).WithTimeout()).Status);
    }

    [Fact]
    public async Task Wrong_ca_is_refused_with_a_clear_error_and_a_long_backoff_not_a_hot_loop()
    {
        var client = _clients.Client(TlsOptions("tls", "localhost", "other"));
        var result = await client.ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TlsHandshakeFailed, result.Outcome);
        Assert.Contains("does not chain to the configured CA", result.Detail, StringComparison.Ordinal);

        var clock = new ManualTimeProvider();
        var supervisor = _clients.Supervisor(client, clock);
        var retries = new List<MqttRetry>();
        supervisor.RetryScheduled += r =>
        {
            lock (retries)
            {
                retries.Add(r);
            }
        };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => retries.Count == 1, "a retry was scheduled");
        await Task.Delay(1000);
        Assert.Equal(1, supervisor.ConnectAttempts);
        Assert.Equal(RetryClass.Refused, retries[0].RetryClass);
        Assert.True(retries[0].Delay >= client.Options.Backoff.RefusedDelay);
    }

    [Fact]
    public async Task Host_name_mismatch_is_refused()
    {
        var options = TlsOptions("tls", "127.0.0.1", "certs");
        options.Tls.TargetHost = "broker.example.org";
        var result = await _clients.Client(options).ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TlsHandshakeFailed, result.Outcome);
        Assert.Contains("host name", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mutual_tls_with_a_client_certificate_connects_and_without_one_fails()
    {
        var options = TlsOptions("mtls", "localhost", "certs");
        options.Tls.ClientCertificateFile = Path.Combine(_broker.Directory, "certs", "client.crt");
        options.Tls.ClientKeyFile = Path.Combine(_broker.Directory, "certs", "client.key");
        var client = await _clients.ConnectedAsync(options);
        Assert.Equal(PublishStatus.Acknowledged, (await client.PublishAsync("test/mtls", "x"u8.ToArray()).WithTimeout()).Status);
        await _broker.WaitForLogAsync("u'gateway-1'");

        var anonymous = await _clients.Client(TlsOptions("mtls", "localhost", "certs")).ConnectAsync().WithTimeout();
        Assert.False(anonymous.IsConnected);
    }

    [Fact]
    public async Task Tls_handshake_that_never_answers_times_out()
    {
        // A listener that accepts TCP and never speaks (reference T-19).
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var options = ClientFactory.Options(((System.Net.IPEndPoint)silent.LocalEndpoint).Port, ClientFactory.UniqueId("stall"));
        options.Tls = new MqttTlsOptions { Enabled = true, CaFile = Path.Combine(_broker.Directory, "certs", "ca.crt"), TargetHost = "localhost" };
        options.TlsHandshakeTimeout = TimeSpan.FromSeconds(1);
        var result = await _clients.Client(options).ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TlsHandshakeTimeout, result.Outcome);
    }
}
