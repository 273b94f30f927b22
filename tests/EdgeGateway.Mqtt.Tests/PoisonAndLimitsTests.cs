using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// Oversize and poison messages on both protocol versions, and the v5 CONNACK limits (Maximum QoS, Retain Available,
/// Server Keep Alive), each against a Mosquitto started with the limit in its config.
/// </summary>
public sealed class PoisonAndLimitsTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Fact]
    public async Task V311_oversize_publish_is_refused_locally_by_the_outgoing_limit_and_the_stream_goes_on()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync("max_packet_size 4096");
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("out311"), MqttProtocolVersion.V311);
        options.MaximumOutgoingPacketSize = 4096;
        var client = await _clients.ConnectedAsync(options);

        var before = await client.PublishAsync("test/out", new byte[100]).WithTimeout();
        var big = await client.PublishAsync("test/out", new byte[5000]).WithTimeout();
        var after = await client.PublishAsync("test/out", new byte[100]).WithTimeout();

        Assert.Equal(PublishStatus.Acknowledged, before.Status);
        Assert.Equal(PublishStatus.DeadLettered, big.Status);
        Assert.Equal(DeadLetterReason.PacketTooLarge, big.DeadLetterReason);
        Assert.Contains("MaximumOutgoingPacketSize", big.Detail, StringComparison.Ordinal);
        Assert.Equal(PublishStatus.Acknowledged, after.Status);
        Assert.Equal(2, proxy.Publishes.Count); // the big one never went on the wire
        Assert.Equal(1, proxy.Connections);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task V5_disconnect_0x95_without_an_advertised_limit_dead_letters_the_culprit_instead_of_resending_it()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync("max_packet_size 4096");
        await using var proxy = new MqttProxy(broker.Port);
        proxy.StripConnAckProperties.Add(0x27); // the client does not learn the server's Maximum Packet Size
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("dc95"));
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        var disconnects = new List<MqttDisconnectInfo>();
        client.StateChanged += s =>
        {
            if (s.Disconnect is { } d)
            {
                lock (disconnects)
                {
                    disconnects.Add(d);
                }
            }
        };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");
        Assert.Equal(0, client.ServerMaximumPacketSize);

        var big = await client.PublishAsync("test/dc95", new byte[5000]).WithTimeout(TimeSpan.FromSeconds(30));
        var after = await client.PublishAsync("test/dc95", new byte[100]).WithTimeout(TimeSpan.FromSeconds(30));

        Assert.Equal(PublishStatus.DeadLettered, big.Status);
        Assert.Equal(DeadLetterReason.PacketTooLarge, big.DeadLetterReason);
        Assert.Equal(MqttReasonCodes.PacketTooLarge, big.ReasonCode);
        Assert.Equal(PublishStatus.Acknowledged, after.Status);
        lock (disconnects)
        {
            var d = Assert.Single(disconnects);
            Assert.Equal(DisconnectKind.ServerDisconnect, d.Kind);
            Assert.Equal(MqttReasonCodes.PacketTooLarge, d.ReasonCode);
        }

        Assert.Equal(1, proxy.Publishes.Count(p => p.Connection == 1));
        Assert.DoesNotContain(proxy.Publishes, p => p.Dup); // sent once, never resent
    }

    [Fact]
    public async Task V311_broker_that_drops_the_link_on_one_message_gets_it_dead_lettered_after_three_drops_and_the_stream_goes_on()
    {
        // 3.1.1 cannot say "too large": mosquitto just closes the connection. The client's own limit is left at 1 MiB.
        await using var broker = await MosquittoBroker.StartPlainAsync("max_packet_size 4096");
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("poison"), MqttProtocolVersion.V311);
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        var letters = new List<MqttDeadLetter>();
        client.DeadLettered += d => letters.Add(d);
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        var big = client.PublishAsync("test/poison", new byte[5000]).AsTask();
        var next = client.PublishAsync("test/poison", "next"u8.ToArray()).AsTask();
        var results = await Task.WhenAll(big, next).WithTimeout(TimeSpan.FromSeconds(60));

        Assert.Equal(PublishStatus.DeadLettered, results[0].Status);
        Assert.Equal(DeadLetterReason.ConnectionDropped, results[0].DeadLetterReason);
        Assert.Contains("3 times", results[0].Detail, StringComparison.Ordinal);
        Assert.Equal(PublishStatus.Acknowledged, results[1].Status);
        Assert.Single(letters);
        // Three connections dropped on it, then the fourth carries on: no endless resend loop.
        Assert.Equal(4, proxy.Connections);
        Assert.Equal(1, proxy.Publishes.Count(p => p.Connection == 2)); // after the first drop the suspect goes alone
        Assert.Equal(1, proxy.Publishes.Count(p => p.Connection == 3));
        Assert.Equal(1, proxy.Publishes.Count(p => p.Connection == 4)); // only "next"
        Assert.False(supervisor.SuspectedTakeover); // drops explained by one message are not a twin instance
        await broker.WaitForLogAsync("oversize packet|too large|exceeded|max_packet_size|Client .* disconnected");
    }

    [Fact]
    public async Task V5_connection_closed_right_after_a_publish_again_and_again_never_dead_letters_it()
    {
        // A 5.0 broker that refuses a message says so (PUBACK >= 0x80, DISCONNECT 0x95); a bare close is the link's doing.
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        proxy.DropPubAcks = true;
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("v5poison"));
        options.PoisonDropLimit = 2;
        options.AckTimeout = TimeSpan.FromSeconds(60);
        options.Backoff.SuspectTakeoverCloses = 0;
        var client = _clients.Client(options);
        _clients.Supervisor(client).Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        var publish = client.PublishAsync("test/v5poison", "m"u8.ToArray()).AsTask();
        for (var i = 1; i <= 3; i++)
        {
            await TaskTimeouts.Eventually(() => proxy.Publishes.Count >= i, $"publish on connection {i}");
            proxy.CloseAll(); // a clean close right after the PUBLISH
        }

        await TaskTimeouts.Eventually(() => proxy.Publishes.Count >= 4, "sent a fourth time");
        Assert.False(publish.IsCompleted);
        proxy.DropPubAcks = false;
        proxy.CutAll();
        var result = await publish.WithTimeout(TimeSpan.FromSeconds(30));
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
        Assert.DoesNotContain(_clients.Logs.Entries, e => e.Id.Id == 6004);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311, PublishStatus.Acknowledged)]
    [InlineData(MqttProtocolVersion.V500, PublishStatus.DeadLettered)]
    public async Task Broker_message_size_limit_is_a_plain_puback_on_v311_and_a_dead_letter_on_v5(MqttProtocolVersion version, PublishStatus expected)
    {
        // message_size_limit drops the message but keeps the connection: on 3.1.1 with a positive PUBACK (rule 3: the
        // client cannot tell), on 5.0 with a PUBACK reason code >= 0x80.
        await using var broker = await MosquittoBroker.StartPlainAsync("message_size_limit 1000");
        var client = await _clients.ConnectedAsync(ClientFactory.Options(broker.Port, ClientFactory.UniqueId("msl"), version));

        var big = await client.PublishAsync("test/msl", new byte[2000]).WithTimeout();
        var small = await client.PublishAsync("test/msl", new byte[10]).WithTimeout();

        Assert.Equal(expected, big.Status);
        if (expected == PublishStatus.DeadLettered)
        {
            Assert.Equal(DeadLetterReason.RejectedByServer, big.DeadLetterReason);
            Assert.True(big.ReasonCode >= 0x80);
            output.WriteLine($"v5 PUBACK reason code for an oversize message: 0x{big.ReasonCode:X2}");
        }

        Assert.Equal(PublishStatus.Acknowledged, small.Status);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Oversize_limit_below_128_bytes_and_negative_poison_limit_are_rejected_by_validation()
    {
        var options = ClientFactory.Options(1883, "v");
        options.MaximumOutgoingPacketSize = 100;
        options.PoisonDropLimit = -1;
        options.Backoff.SuspectTakeoverCloses = -2;
        var problems = options.Validate("Mqtt").ToList();
        Assert.Contains(problems, p => p.StartsWith("Mqtt:MaximumOutgoingPacketSize:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mqtt:PoisonDropLimit:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mqtt:Backoff:SuspectTakeoverCloses:", StringComparison.Ordinal));
        await Task.CompletedTask;
    }

    [Fact]
    public async Task V5_maximum_qos_0_refuses_qos1_publishes_and_lets_qos0_through()
    {
        // max_qos is a listener setting (per_listener_settings true).
        await using var broker = await MosquittoBroker.StartAsync(new Dictionary<string, string>
        {
            ["plain"] = "listener PORT 127.0.0.1\nallow_anonymous true\nmax_qos 0",
        });
        var topic = $"test/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(broker.Port, topic);
        var client = await _clients.ConnectedAsync(ClientFactory.Options(broker.Port, ClientFactory.UniqueId("maxqos")));
        Assert.Equal(0, client.ServerMaximumQos);

        var qos1 = await client.PublishAsync(topic, "q1"u8.ToArray()).WithTimeout();
        var qos0 = await client.PublishAsync(topic, "q0"u8.ToArray(), MqttQualityOfService.AtMostOnce).WithTimeout();

        // [MQTT-3.2.2-11]: never sent above the server's Maximum QoS; a silent downgrade would fake at-least-once.
        Assert.Equal(PublishStatus.DeadLettered, qos1.Status);
        Assert.Equal(DeadLetterReason.NotSupportedByServer, qos1.DeadLetterReason);
        Assert.Contains("Maximum QoS 0", qos1.Detail, StringComparison.Ordinal);
        Assert.Equal(PublishStatus.Sent, qos0.Status);
        await TaskTimeouts.Eventually(() => received.Contains("q0"), "the QoS 0 message arrived");
        Assert.DoesNotContain("q1", received);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task V5_retain_not_available_refuses_a_retained_publish_and_the_connection_stays_up()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync("retain_available false");
        var client = await _clients.ConnectedAsync(ClientFactory.Options(broker.Port, ClientFactory.UniqueId("noretain")));
        Assert.False(client.ServerRetainAvailable);

        var retained = await client.PublishAsync("test/noretain", "r"u8.ToArray(), retain: true).WithTimeout();
        var plain = await client.PublishAsync("test/noretain", "p"u8.ToArray()).WithTimeout();

        Assert.Equal(PublishStatus.DeadLettered, retained.Status);
        Assert.Equal(DeadLetterReason.NotSupportedByServer, retained.DeadLetterReason);
        Assert.Contains("RETAIN", retained.Detail, StringComparison.Ordinal);
        Assert.Equal(PublishStatus.Acknowledged, plain.Status);
        Assert.True(client.IsConnected); // sending it would have earned DISCONNECT 0x9A
    }

    [Fact]
    public async Task V5_server_keep_alive_replaces_ours_and_drives_the_pings()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync("max_keepalive 10");
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("ska"));
        options.KeepAlive = TimeSpan.FromSeconds(60);
        var client = await _clients.ConnectedAsync(options);
        // With our 60 s nothing would be sent for 45 s; the server's 10 s (the lowest mosquitto allows) makes the
        // client ping every ~7.5 s.
        await TaskTimeouts.Eventually(() => proxy.PingRequests >= 1, "a PINGREQ well before our own keep alive", TimeSpan.FromSeconds(30));
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task Packet_ids_wrap_past_65535_with_hundreds_outstanding_and_never_collide()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("wrap"), MqttProtocolVersion.V311);
        options.MaxInflight = 500;
        options.MaxPending = 70_000;
        var client = await _clients.ConnectedAsync(options);
        var payload = new byte[16];

        // All queued at once, so the window stays full the whole way through the wrap.
        var tasks = new Task<PublishResult>[66_000];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = client.PublishAsync("test/wrap", payload).AsTask();
        }

        var results = await Task.WhenAll(tasks).WithTimeout(TimeSpan.FromSeconds(120));

        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        Assert.Equal(1, proxy.Connections);
        Assert.Equal(0, proxy.IdCollisions);
        Assert.True(proxy.OutstandingAtWrap >= 100, $"only {proxy.OutstandingAtWrap} outstanding when the ids wrapped");
        Assert.InRange(proxy.MaxOutstanding, 100, 500);
        Assert.Contains(proxy.Publishes, p => p.Id == 65_535);
    }

    [Fact]
    public async Task Broker_side_keep_alive_drops_a_client_whose_pings_never_arrive()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("bka"), MqttProtocolVersion.V311);
        options.KeepAlive = TimeSpan.FromSeconds(2);
        options.PingTimeout = TimeSpan.FromSeconds(60); // the broker must be the one that gives up
        var client = await _clients.ConnectedAsync(options);
        var closed = client.WaitForDisconnectAsync();
        proxy.DropPingRequests = true;

        var info = await closed.WithTimeout(TimeSpan.FromSeconds(20));

        Assert.Equal(DisconnectKind.ConnectionLost, info!.Kind);
        Assert.True(proxy.PingRequests >= 1);
        await broker.WaitForLogAsync($"Client {options.ClientId} has exceeded timeout");
    }
}
