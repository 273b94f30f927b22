using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

[Collection("mosquitto")]
public sealed class PublishIntegrationTests(SharedMosquitto mosquitto, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311, 1)]
    [InlineData(MqttProtocolVersion.V311, 20)]
    [InlineData(MqttProtocolVersion.V500, 20)]
    [InlineData(MqttProtocolVersion.V500, 100)]
    public async Task Qos1_messages_are_acknowledged_and_all_reach_a_subscriber(MqttProtocolVersion version, int window)
    {
        var topic = $"test/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(mosquitto.Port, topic + "/#");
        var options = ClientFactory.Options(mosquitto.Port, ClientFactory.UniqueId("pub"), version);
        options.MaxInflight = window;
        var client = await _clients.ConnectedAsync(options);

        var tasks = Enumerable.Range(0, 1000)
            .Select(i => client.PublishAsync($"{topic}/s", Encoding.UTF8.GetBytes(i.ToString())).AsTask()).ToList();
        var results = await Task.WhenAll(tasks).WithTimeout(TimeSpan.FromSeconds(60));

        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        Assert.True(client.MaxObservedInflight <= window, $"window {window} exceeded: {client.MaxObservedInflight}");
        await TaskTimeouts.Eventually(() => received.Count >= 1000, "the subscriber got all 1000", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, 1000).Select(i => i.ToString()), received.ToArray());
        _clients.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Qos1_delivery_is_verified_by_mosquitto_sub()
    {
        var topic = $"test/{Guid.NewGuid():N}";
        var sub = Process.Start(new ProcessStartInfo(MosquittoBroker.FindBinary("mosquitto_sub"),
            ["-p", mosquitto.Port.ToString(), "-h", "127.0.0.1", "-q", "1", "-t", topic, "-C", "200", "-W", "30"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        await mosquitto.Broker.WaitForLogAsync($"SUBSCRIBE[\\s\\S]*{topic}");
        var client = await _clients.ConnectedAsync(ClientFactory.Options(mosquitto.Port, ClientFactory.UniqueId("pub"), MqttProtocolVersion.V311));
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(PublishStatus.Acknowledged, (await client.PublishAsync(topic, Encoding.UTF8.GetBytes($"m{i}")).WithTimeout()).Status);
        }

        var lines = (await sub.StandardOutput.ReadToEndAsync().WithTimeout(TimeSpan.FromSeconds(35)))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries);
        await sub.WaitForExitAsync().WithTimeout();
        Assert.Equal(0, sub.ExitCode);
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), lines);
    }

    [Fact]
    public async Task V5_puback_no_matching_subscribers_is_success()
    {
        var client = await _clients.ConnectedAsync(ClientFactory.Options(mosquitto.Port, ClientFactory.UniqueId("pub")));
        var result = await client.PublishAsync($"nobody/{Guid.NewGuid():N}", "x"u8.ToArray()).WithTimeout();
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
        Assert.Equal(MqttReasonCodes.NoMatchingSubscribers, result.ReasonCode);
    }

    [Fact]
    public async Task Packet_ids_wrap_past_65535_without_a_collision()
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("wrap"), MqttProtocolVersion.V311);
        options.MaxInflight = 100;
        options.MaxPending = 2000;
        var client = await _clients.ConnectedAsync(options);
        var payload = new byte[16];
        const int count = 70_000;
        var inFlight = new List<Task<PublishResult>>(100);
        var acked = 0;
        for (var i = 0; i < count; i++)
        {
            inFlight.Add(client.PublishAsync("test/wrap", payload).AsTask());
            if (inFlight.Count == 100)
            {
                acked += (await Task.WhenAll(inFlight).WithTimeout(TimeSpan.FromSeconds(30))).Count(r => r.Status == PublishStatus.Acknowledged);
                inFlight.Clear();
            }
        }

        acked += (await Task.WhenAll(inFlight).WithTimeout()).Count(r => r.Status == PublishStatus.Acknowledged);
        Assert.Equal(count, acked);
        Assert.Equal(count, proxy.Publishes.Count);
        Assert.Equal(0, proxy.IdCollisions);
        Assert.DoesNotContain(proxy.Publishes, p => p.Id == 0);
        Assert.Contains(proxy.Publishes, p => p.Id == 65_535);
        var wrapAt = proxy.Publishes.FindIndex(p => p.Id == 65_535);
        Assert.True(wrapAt < count - 1 && proxy.Publishes[wrapAt + 1].Id < 65_535, "ids continued past 65535 by wrapping");
    }

    [Fact]
    public async Task Keep_alive_sends_pingreq_when_idle_and_the_connection_stays_up()
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("ka"));
        options.KeepAlive = TimeSpan.FromSeconds(1);
        var client = await _clients.ConnectedAsync(options);
        await TaskTimeouts.Eventually(() => proxy.PingRequests >= 3, "three PINGREQs while idle", TimeSpan.FromSeconds(10));
        Assert.True(client.IsConnected);
        Assert.Equal(1, proxy.Connections);
    }

    [Fact]
    public async Task Blackholed_link_is_declared_dead_even_while_publishing()
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("bh"));
        options.KeepAlive = TimeSpan.FromSeconds(2);
        options.PingTimeout = TimeSpan.FromSeconds(2);
        var client = await _clients.ConnectedAsync(options);
        proxy.Blackhole = true;
        var closed = client.WaitForDisconnectAsync();
        using var cts = new CancellationTokenSource();
        var publisher = Task.Run(async () =>
        {
            while (!cts.IsCancellationRequested)
            {
                _ = client.PublishAsync("test/bh", "x"u8.ToArray(), MqttQualityOfService.AtMostOnce).AsTask();
                await Task.Delay(200);
            }
        });
        var info = await closed.WithTimeout(TimeSpan.FromSeconds(15));
        await cts.CancelAsync();
        await publisher.WithTimeout();
        Assert.Equal(DisconnectKind.KeepAliveTimeout, info!.Kind);
    }
}
