using System.Net;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using EdgeGateway.Upstream.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Upstream.Tests;

internal static class StoreDir
{
    /// <summary>A temporary data directory; SQLite's pooled connections to it are closed before it is deleted.</summary>
    public static TempDir Create() => new("eg-upstream-test-", Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools);
}

/// <summary>A real RecordBuffer in a temp dir with one forwarder feeding the sink under test.</summary>
internal sealed class BufferRig : IAsyncDisposable
{
    private readonly TempDir _dir = StoreDir.Create();

    public BufferRig(IUpstreamSink sink, TestLoggerProvider logs, Action<SinkForwardingOptions>? forwarding = null, bool startForwarder = true)
    {
        var options = new BufferOptions
        {
            DataDirectory = _dir.Path,
            MaxBytes = 64L * 1024 * 1024,
            MinFreeDiskBytes = 0,
            BatchInterval = TimeSpan.FromMilliseconds(5),
            MaintenanceInterval = TimeSpan.FromMilliseconds(200),
        };
        var loggers = logs.CreateFactory();
        Buffer = new RecordBuffer(options, TimeProvider.System, loggers.CreateLogger<RecordBuffer>());
        Buffer.Start();
        var f = new SinkForwardingOptions
        {
            InflightWindow = 200,
            BatchSize = 50,
            MaxRecordsPerSecond = 0,
            // Strict sequence order: live records never overtake the backlog (per-stream order upstream).
            LiveShare = 0,
            RetryMinDelay = TimeSpan.FromMilliseconds(100),
            RetryMaxDelay = TimeSpan.FromSeconds(1),
            AckTimeout = TimeSpan.FromSeconds(60),
        };
        forwarding?.Invoke(f);
        Forwarder = new UpstreamForwarder(Buffer, sink, f, TimeProvider.System, loggers.CreateLogger<UpstreamForwarder>());
        if (startForwarder)
        {
            Forwarder.Start();
        }
    }

    public RecordBuffer Buffer { get; }

    public UpstreamForwarder Forwarder { get; }

    /// <summary>Sequences the buffer assigned to what this rig wrote, in order.</summary>
    public List<long> Written { get; } = [];

    /// <summary>The last written sequence (the cursor once everything is acknowledged).</summary>
    public long Last => Written[^1];

    /// <summary>The buffer's committed sequence before anything was written (sequences do not start at 1).</summary>
    public long Start { get; private set; } = -1;

    /// <summary>A record whose JSON payload is about <paramref name="bytes"/> long.</summary>
    public async Task<long> WriteBigAsync(string stream, int bytes)
    {
        var payload = Encoding.UTF8.GetBytes($"{{\"pad\":\"{new string('x', bytes)}\"}}");
        var result = await Buffer.WriteAsync(new TelemetryRecord(stream, RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp,
            TimeProvider.System.GetTimestamp(), payload)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, result.Status);
        lock (Written)
        {
            Written.Add(result.Sequence);
        }

        return result.Sequence;
    }

    public async Task<long> WriteAsync(string stream, long n)
    {
        if (Start < 0)
        {
            Start = Buffer.CommittedSequence;
        }

        var payload = Encoding.UTF8.GetBytes($"{{\"n\":{n}}}");
        var result = await Buffer.WriteAsync(new TelemetryRecord(stream, RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp,
            TimeProvider.System.GetTimestamp(), payload)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, result.Status);
        lock (Written)
        {
            Written.Add(result.Sequence);
        }

        return result.Sequence;
    }

    public async ValueTask DisposeAsync()
    {
        await Forwarder.DisposeAsync();
        await Buffer.DisposeAsync();
        _dir.Dispose();
    }
}

/// <summary>The reference receiver on real Kestrel at 127.0.0.1:0.</summary>
internal sealed class ReceiverServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ReceiverServer(WebApplication app, RelayReceiver receiver, string url)
    {
        _app = app;
        Receiver = receiver;
        Url = url;
    }

    public RelayReceiver Receiver { get; }

    /// <summary>ws://127.0.0.1:PORT/relay</summary>
    public string Url { get; }

    public static async Task<ReceiverServer> StartAsync(string token, TestLoggerProvider logs)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new RelayReceiver(token, app.Logger);
        app.UseWebSockets();
        app.MapRelayReceiver("/relay", receiver);
        // A WebSocket endpoint that is not a relay receiver: accepts without selecting the subprotocol.
        app.Map("/plain", async context =>
        {
            using var ws = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            while (ws.State == System.Net.WebSockets.WebSocketState.Open)
            {
                try
                {
                    await ws.ReceiveAsync(buffer, context.RequestAborted);
                }
                catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException or IOException)
                {
                    break;
                }
            }
        });
        await app.StartAsync().WithTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new ReceiverServer(app, receiver, address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay");
    }

    public async ValueTask DisposeAsync()
    {
        Receiver.DropConnections();
        await _app.StopAsync().WithTimeout();
        await _app.DisposeAsync();
    }
}
