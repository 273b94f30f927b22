using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>Builds clients for tests with short, CI-tolerant timeouts, and disposes them at the end.</summary>
internal sealed class ClientFactory(ITestOutputHelper output) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    public TestLoggerProvider Logs { get; } = new(output);

    public static string UniqueId(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..10]}";

    public static MqttClientOptions Options(int port, string clientId, MqttProtocolVersion version = MqttProtocolVersion.V500) => new()
    {
        Host = "127.0.0.1",
        Port = port,
        ClientId = clientId,
        ProtocolVersion = version,
        KeepAlive = TimeSpan.FromSeconds(30),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        TlsHandshakeTimeout = TimeSpan.FromSeconds(5),
        ConnAckTimeout = TimeSpan.FromSeconds(5),
        Backoff = new MqttBackoffOptions
        {
            InitialDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(2),
            RefusedDelay = TimeSpan.FromSeconds(60), TakeoverDelay = TimeSpan.FromSeconds(120),
        },
    };

    public MqttClient Client(MqttClientOptions options, TimeProvider? time = null)
    {
        var client = new MqttClient(options, Logs.CreateFactory().CreateLogger<MqttClient>(), time);
        _owned.Add(client);
        return client;
    }

    public async Task<MqttClient> ConnectedAsync(MqttClientOptions options)
    {
        var client = Client(options);
        var result = await client.ConnectAsync().WithTimeout();
        Assert.True(result.IsConnected, result.ToString());
        return client;
    }

    public MqttConnection Supervisor(MqttClient client, TimeProvider? time = null, int seed = 1)
    {
        var supervisor = new MqttConnection(client, Logs.CreateFactory().CreateLogger<MqttConnection>(), time, new Random(seed));
        _owned.Insert(0, supervisor);
        return supervisor;
    }

    /// <summary>A subscriber client that collects payloads of one filter.</summary>
    public async Task<(MqttClient Client, ConcurrentQueue<string> Received)> SubscriberAsync(int port, string filter,
        MqttProtocolVersion version = MqttProtocolVersion.V500)
    {
        var received = new ConcurrentQueue<string>();
        var options = Options(port, UniqueId("sub"), version);
        options.ReceiveMaximum = 1000;
        var client = Client(options);
        client.MessageReceived = (m, _) =>
        {
            received.Enqueue(System.Text.Encoding.UTF8.GetString(m.Payload.Span));
            return ValueTask.CompletedTask;
        };
        Assert.True((await client.ConnectAsync().WithTimeout()).IsConnected);
        var sub = await client.SubscribeAsync([new MqttSubscription(filter)]).WithTimeout();
        Assert.Equal(SubscribeStatus.Completed, sub.Status);
        Assert.All(sub.ReasonCodes, c => Assert.True(c < 0x80, $"SUBACK 0x{c:X2}"));
        return (client, received);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var d in _owned)
        {
            await d.DisposeAsync().AsTask().WithTimeout(TimeSpan.FromSeconds(20));
        }
    }
}
