using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>Tests that need a broker of their own: different limits, or a broker that gets frozen.</summary>
public sealed class LimitsAndFaultsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Fact]
    public async Task Receive_maximum_caps_the_window_and_oversize_messages_are_dead_lettered_while_the_stream_goes_on()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync("max_inflight_messages 5\nmax_packet_size 4096");
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("limits"));
        options.MaxInflight = 100;
        options.MaxPending = 1000;
        var client = await _clients.ConnectedAsync(options);
        Assert.Equal(5, client.Window);
        Assert.Equal(4096, client.ServerMaximumPacketSize);
        var letters = new List<MqttDeadLetter>();
        client.DeadLettered += d => letters.Add(d);

        var tasks = new List<Task<PublishResult>>();
        for (var i = 0; i < 500; i++)
        {
            var size = i == 250 ? 5000 : 100;
            tasks.Add(client.PublishAsync("test/limits", new byte[size]).AsTask());
        }

        var results = await Task.WhenAll(tasks).WithTimeout(TimeSpan.FromSeconds(30));
        Assert.Equal(PublishStatus.DeadLettered, results[250].Status);
        Assert.Equal(DeadLetterReason.PacketTooLarge, results[250].DeadLetterReason);
        Assert.Single(letters);
        Assert.Equal(499, results.Count(r => r.Status == PublishStatus.Acknowledged));
        Assert.InRange(proxy.MaxOutstanding, 1, 5);
        Assert.Equal(1, proxy.Connections); // no DISCONNECT 0x95, no reconnect loop
        _clients.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Frozen_broker_is_detected_connack_times_out_and_the_client_recovers_after_sigcont()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        var options = ClientFactory.Options(broker.Port, ClientFactory.UniqueId("frozen"), MqttProtocolVersion.V311);
        options.KeepAlive = TimeSpan.FromSeconds(2);
        options.PingTimeout = TimeSpan.FromSeconds(2);
        options.ConnAckTimeout = TimeSpan.FromSeconds(2);
        options.CleanStart = false;
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        var retries = new List<MqttRetry>();
        supervisor.RetryScheduled += r =>
        {
            lock (retries)
            {
                retries.Add(r);
            }
        };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");
        var closed = client.WaitForDisconnectAsync();

        await broker.FreezeAsync();
        var info = await closed.WithTimeout(TimeSpan.FromSeconds(15));
        Assert.Equal(DisconnectKind.KeepAliveTimeout, info!.Kind);
        var pending = client.PublishAsync("test/frozen", "kept"u8.ToArray()).AsTask();
        await TaskTimeouts.Eventually(() =>
        {
            lock (retries)
            {
                return retries.Any(r => r.Why.Contains("ConnAckTimeout", StringComparison.Ordinal));
            }
        }, "a reconnect attempt timed out waiting for CONNACK", TimeSpan.FromSeconds(20));
        Assert.False(pending.IsCompleted);

        await broker.ThawAsync();
        var result = await pending.WithTimeout(TimeSpan.FromSeconds(30));
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Graceful_broker_restart_mid_stream_loses_nothing_on_a_persistent_session()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        var topic = $"test/{Guid.NewGuid():N}";
        var subOptions = ClientFactory.Options(broker.Port, ClientFactory.UniqueId("verifier"), MqttProtocolVersion.V311);
        subOptions.CleanStart = false;
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var subscriber = _clients.Client(subOptions);
        subscriber.MessageReceived = (m, _) =>
        {
            received.AddOrUpdate(Encoding.UTF8.GetString(m.Payload.Span), 1, (_, c) => c + 1);
            return ValueTask.CompletedTask;
        };
        _clients.Supervisor(subscriber, seed: 3).Start();
        await TaskTimeouts.Eventually(() => subscriber.IsConnected, "subscriber connected");
        Assert.Equal(SubscribeStatus.Completed, (await subscriber.SubscribeAsync([new MqttSubscription(topic)]).WithTimeout()).Status);

        var options = ClientFactory.Options(broker.Port, ClientFactory.UniqueId("restart"), MqttProtocolVersion.V311);
        options.CleanStart = false;
        var client = _clients.Client(options);
        _clients.Supervisor(client, seed: 4).Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "publisher connected");

        var tasks = new List<Task<PublishResult>>();
        for (var i = 0; i < 600; i++)
        {
            tasks.Add(client.PublishAsync(topic, Encoding.UTF8.GetBytes($"m{i}")).AsTask());
            if (i == 300)
            {
                await broker.RestartAsync();
            }
        }

        var results = await Task.WhenAll(tasks).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        await TaskTimeouts.Eventually(() => received.Count == 600, $"the persistent subscriber saw all 600 (has {received.Count})",
            TimeSpan.FromSeconds(30));
    }
}
