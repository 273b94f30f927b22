using System.Net;
using System.Security.Cryptography.X509Certificates;
using EdgeGateway.Health;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>The relay sink over wss:// to the reference receiver on real Kestrel with HTTPS (a certificate from a test CA).</summary>
public sealed class RelaySinkTlsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int RelayRefused = 6502;
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();
    private readonly TempDir _dir = StoreDir.Create();
    private TestTlsCertificates _certs = null!;
    private TestTlsCertificates _otherCa = null!;
    private HttpsReceiver _server = null!;

    public async Task InitializeAsync()
    {
        _certs = TestTlsCertificates.Create(Path.Combine(_dir.Path, "certs"), "edge");
        _otherCa = TestTlsCertificates.Create(Path.Combine(_dir.Path, "other"), "other");
        _server = await HttpsReceiver.StartAsync("s3cret", _certs.LoadServerCertificate(), _logs);
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _metrics.Dispose();
        _dir.Dispose();
    }

    private RelaySink Sink(string? caFile, TimeSpan refusedDelay)
    {
        var o = new RelaySinkOptions
        {
            Enabled = true,
            Url = _server.Url,
            Token = "s3cret",
            CaFile = caFile,
            KeepAlive = TimeSpan.FromSeconds(5),
            PingTimeout = TimeSpan.FromSeconds(10),
            // Generous under CPU load: a TLS handshake on a busy 2-core machine can take seconds.
            ConnectTimeout = TimeSpan.FromSeconds(15),
            AckTimeout = TimeSpan.FromSeconds(60),
            Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromSeconds(1),
                RefusedDelay = refusedDelay,
            },
        };
        Assert.Empty(o.Validate("Upstream:Relay"));
        var sink = new RelaySink(o, "gw1", TimeProvider.System, _logs.CreateFactory().CreateLogger<RelaySink>(), _metrics);
        sink.Start();
        return sink;
    }

    [Fact]
    public async Task Wss_with_the_generated_ca_delivers_records_and_acks_move_the_cursor()
    {
        Assert.StartsWith("wss://127.0.0.1:", _server.Url, StringComparison.Ordinal);
        await using var sink = Sink(_certs.CaFile, TimeSpan.FromMinutes(1));
        await using var rig = new BufferRig(sink, _logs);
        for (var i = 1; i <= 100; i++)
        {
            await rig.WriteAsync(i % 2 == 0 ? "drone/tello-1/state" : "sensor/gps0", i);
        }

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor reaches {rig.Last} (is {rig.Forwarder.Cursor}; last error {sink.LastError})");
        Assert.Equal(rig.Written, _server.Receiver.Records.Select(r => r.Sequence).Distinct().Order());
        Assert.Equal($"gw1:{rig.Written[0]}", _server.Receiver.Records.First(r => r.Sequence == rig.Written[0]).Id);
        Assert.True(sink.IsConnected);
        Assert.Equal(100, sink.Acknowledged);
        Assert.Equal(1, sink.Attempts);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Wss_with_a_wrong_ca_is_refused_with_a_clear_certificate_error_and_a_long_backoff()
    {
        await using var sink = Sink(_otherCa.CaFile, TimeSpan.FromMinutes(1));
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var health = new UpstreamHealth([sink], TimeProvider.System);

        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == RelayRefused), "the refusal is logged", TimeSpan.FromSeconds(20));
        var refusal = _logs.Entries.First(e => e.Id.Id == RelayRefused);
        Assert.Equal(LogLevel.Error, refusal.Level);
        Assert.Contains("does not chain to the configured CA (CaFile)", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("next attempt in", refusal.Message, StringComparison.Ordinal);
        var entry = Assert.Single(health.Report());
        Assert.Equal("upstream/relay", entry.Component);
        Assert.Equal(HealthState.Degraded, entry.State);
        Assert.Contains("TLS handshake failed: the receiver's certificate does not chain to the configured CA", entry.Summary, StringComparison.Ordinal);

        // RefusedDelay (1 min), not the 100 ms network backoff: one attempt in these seconds, no hot loop.
        await Task.Delay(TimeSpan.FromSeconds(4));
        Assert.Equal(1, sink.Attempts);
        Assert.Equal(1, _logs.Entries.Count(e => e.Id.Id == RelayRefused));
        Assert.Equal(0, sink.Connects);
        Assert.Equal(0, _server.Receiver.Connections);
        Assert.Empty(_server.Receiver.Records);
        Assert.Equal(rig.Start, rig.Forwarder.Cursor);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("does not chain to the configured CA", StringComparison.Ordinal)
            || m.Contains("TLS handshake failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Wss_without_a_ca_file_does_not_trust_a_private_ca_and_says_so()
    {
        await using var sink = Sink(caFile: null, TimeSpan.FromMinutes(1));
        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == RelayRefused), "the refusal is logged", TimeSpan.FromSeconds(20));
        Assert.Contains("not trusted by the system trust store", sink.LastError, StringComparison.Ordinal);
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, sink.Attempts);
        Assert.Equal(0, sink.Connects);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("TLS handshake failed", StringComparison.Ordinal)
            || m.Contains("system trust store", StringComparison.Ordinal));
    }

    /// <summary>The reference receiver on Kestrel at 127.0.0.1:0 with HTTPS.</summary>
    private sealed class HttpsReceiver : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly X509Certificate2 _certificate;

        private HttpsReceiver(WebApplication app, X509Certificate2 certificate, RelayReceiver receiver, string url)
        {
            _app = app;
            _certificate = certificate;
            Receiver = receiver;
            Url = url;
        }

        public RelayReceiver Receiver { get; }

        /// <summary>wss://127.0.0.1:PORT/relay</summary>
        public string Url { get; }

        public static async Task<HttpsReceiver> StartAsync(string token, X509Certificate2 certificate, TestLoggerProvider logs)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddProvider(logs);
            builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0, l => l.UseHttps(certificate)));
            var app = builder.Build();
            var receiver = new RelayReceiver(token, app.Logger);
            app.UseWebSockets();
            app.MapRelayReceiver("/relay", receiver);
            await app.StartAsync().WithTimeout();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new HttpsReceiver(app, certificate, receiver, address.Replace("https://", "wss://", StringComparison.Ordinal) + "/relay");
        }

        public async ValueTask DisposeAsync()
        {
            Receiver.DropConnections();
            await _app.StopAsync().WithTimeout();
            await _app.DisposeAsync();
            _certificate.Dispose();
        }
    }
}
