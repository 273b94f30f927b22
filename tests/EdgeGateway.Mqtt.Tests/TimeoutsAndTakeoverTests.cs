using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>Ack watchdog, TCP connect timeout, re-subscribe on a lost session, and twin instances with one client id.</summary>
public sealed class TimeoutsAndTakeoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Fact]
    public async Task Broker_that_accepts_publishes_but_never_acknowledges_trips_the_ack_watchdog_and_the_message_is_resent()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        proxy.DropPubAcks = true;
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("acktimeout"));
        options.AckTimeout = TimeSpan.FromSeconds(2);
        options.KeepAlive = TimeSpan.FromSeconds(60); // pings must not be what ends it
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");
        var closed = client.WaitForDisconnectAsync();

        var publish = client.PublishAsync("test/acktimeout", "m"u8.ToArray()).AsTask();
        var info = await closed.WithTimeout(TimeSpan.FromSeconds(20));
        Assert.Equal(DisconnectKind.AckTimeout, info!.Kind);
        Assert.False(publish.IsCompleted);

        proxy.DropPubAcks = false;
        var result = await publish.WithTimeout(TimeSpan.FromSeconds(20));
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
        Assert.True(proxy.Connections >= 2);
        Assert.True(proxy.Publishes.Count >= 2, "sent again on the new connection");
    }

    [Fact]
    public async Task Tcp_connect_that_never_completes_times_out_after_connect_timeout()
    {
        // A listener whose accept queue is full: Linux drops further SYNs, so the handshake never completes.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        using var fill = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        for (var i = 0; i < 4; i++)
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            fillers.Add(s);
            _ = s.ConnectAsync(IPAddress.Loopback, port, fill.Token).AsTask().ContinueWith(_ => { }, TaskScheduler.Default);
        }

        try
        {
            await Task.Delay(300);
            var options = ClientFactory.Options(port, ClientFactory.UniqueId("ctimeout"));
            options.ConnectTimeout = TimeSpan.FromSeconds(1);
            options.ConnAckTimeout = TimeSpan.FromSeconds(30); // so only the TCP timeout can end it early
            var client = _clients.Client(options);

            var started = Stopwatch.StartNew();
            var result = await client.ConnectAsync().WithTimeout(TimeSpan.FromSeconds(20));

            Assert.Equal(ConnectOutcome.TcpConnectTimeout, result.Outcome);
            Assert.Contains("no TCP connection within", result.Detail, StringComparison.Ordinal);
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(15));
            Assert.Equal(RetryClass.Normal, ReconnectBackoff.Classify(result));
        }
        finally
        {
            foreach (var s in fillers)
            {
                s.Dispose();
            }
        }
    }

    [Fact]
    public async Task Subscriptions_are_renewed_after_a_reconnect_that_lost_the_session()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        var topic = $"test/{Guid.NewGuid():N}";
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("resub"));
        options.CleanStart = true; // every reconnect is a new session without subscriptions
        var received = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var subscriber = _clients.Client(options);
        subscriber.MessageReceived = (m, _) =>
        {
            received.Enqueue(Encoding.UTF8.GetString(m.Payload.Span));
            return ValueTask.CompletedTask;
        };
        _clients.Supervisor(subscriber).Start();
        await TaskTimeouts.Eventually(() => subscriber.IsConnected, "connected");
        Assert.Equal(SubscribeStatus.Completed, (await subscriber.SubscribeAsync([new MqttSubscription(topic)]).WithTimeout()).Status);
        var publisher = await _clients.ConnectedAsync(ClientFactory.Options(broker.Port, ClientFactory.UniqueId("resubpub")));
        Assert.Equal(PublishStatus.Acknowledged, (await publisher.PublishAsync(topic, "before"u8.ToArray()).WithTimeout()).Status);
        await TaskTimeouts.Eventually(() => received.Contains("before"), "received before the cut");

        proxy.CutAll();
        await TaskTimeouts.Eventually(() => proxy.Connections >= 2 && subscriber.IsConnected, "reconnected");
        await TaskTimeouts.Eventually(() => _clients.Logs.Entries.Any(e => e.Id.Id == 6010 && e.Message.Contains("Completed", StringComparison.Ordinal)),
            "re-subscribed on the new session");
        Assert.Equal(PublishStatus.Acknowledged, (await publisher.PublishAsync(topic, "after"u8.ToArray()).WithTimeout()).Status);
        await TaskTimeouts.Eventually(() => received.Contains("after"), "received after the reconnect");
    }

    [Fact]
    public async Task Two_instances_with_one_client_id_stop_fighting_once_the_silent_takeover_is_suspected()
    {
        // Mosquitto 2.0.11 closes the older v5 connection without DISCONNECT 0x8E (reference B10). The supervisors run
        // on a manual clock, so backoff waits pass only when the test says so and attempts can be counted exactly.
        await using var broker = await MosquittoBroker.StartPlainAsync();
        var id = ClientFactory.UniqueId("twin");
        var clock = new ManualTimeProvider();
        var a = _clients.Client(ClientFactory.Options(broker.Port, id));
        var b = _clients.Client(ClientFactory.Options(broker.Port, id));
        var sa = _clients.Supervisor(a, clock, seed: 1);
        var sb = _clients.Supervisor(b, clock, seed: 2);
        var retries = new List<MqttRetry>();
        sa.RetryScheduled += r => { lock (retries) { retries.Add(r); } };
        sb.RetryScheduled += r => { lock (retries) { retries.Add(r); } };
        sa.Start();
        sb.Start();

        for (var i = 0; i < 60 && !(sa.SuspectedTakeover || sb.SuspectedTakeover); i++)
        {
            clock.Advance(TimeSpan.FromSeconds(3)); // longer than any normal backoff (MaxDelay 2 s + jitter)
            await Task.Delay(300);
        }

        Assert.True(sa.SuspectedTakeover || sb.SuspectedTakeover, $"never suspected; attempts {sa.ConnectAttempts} + {sb.ConnectAttempts}");
        lock (retries)
        {
            Assert.Contains(retries, r => r.RetryClass == RetryClass.Takeover && r.Delay >= TimeSpan.FromSeconds(120));
        }

        // Each kicked the other (immediate reconnects the broker accepted) until both suspected a twin; the one kicked
        // last now waits the takeover delay and the other keeps the connection; nobody kicks anybody meanwhile.
        await TaskTimeouts.Eventually(() => a.IsConnected ^ b.IsConnected, "one instance holds the connection");
        var (other, suspiciousClient) = a.IsConnected ? (a, b) : (b, a);
        var attempts = sa.ConnectAttempts + sb.ConnectAttempts;
        for (var t = 0; t < 30; t++)
        {
            clock.Advance(TimeSpan.FromSeconds(3)); // 90 s in all, below TakeoverDelay (120 s)
            await Task.Delay(50);
        }

        await Task.Delay(500);
        Assert.Equal(attempts, sa.ConnectAttempts + sb.ConnectAttempts);
        Assert.True(other.IsConnected);
        Assert.False(suspiciousClient.IsConnected);
        var warnings = _clients.Logs.Entries.Where(e => e.Id.Id == 6104).ToList();
        Assert.InRange(warnings.Count, 1, 2); // once per instance, not per attempt
        Assert.All(warnings, w => Assert.Contains("client id in use", w.Message, StringComparison.Ordinal));
        Assert.All(warnings, w => Assert.Contains(id, w.Message, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Connections_reset_by_the_link_do_not_count_as_a_silent_takeover()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("resets"));
        options.Backoff.SuspectTakeoverCloses = 2;
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        var retries = new List<MqttRetry>();
        supervisor.RetryScheduled += r => { lock (retries) { retries.Add(r); } };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        for (var i = 2; i <= 4; i++)
        {
            proxy.ResetAll();
            await TaskTimeouts.Eventually(() => proxy.Connections >= i && client.IsConnected, $"reconnected ({i})");
        }

        Assert.False(supervisor.SuspectedTakeover);
        Assert.DoesNotContain(_clients.Logs.Entries, e => e.Id.Id == 6104);
        Assert.Contains(_clients.Logs.Entries, e => e.Id.Id == 6002 && e.Message.Contains("reset", StringComparison.OrdinalIgnoreCase));
        lock (retries)
        {
            Assert.Equal(3, retries.Count);
            Assert.All(retries, r => Assert.Equal(RetryClass.Normal, r.RetryClass));
        }
    }

    [Fact]
    public async Task Clean_server_closes_the_broker_answers_at_once_raise_the_suspicion_and_a_connection_that_stays_up_StableAfter_clears_it()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        await using var proxy = new MqttProxy(broker.Port);
        var clock = new ManualTimeProvider();
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("stable"));
        options.Backoff.SuspectTakeoverCloses = 2;
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client, clock);
        var retries = new List<MqttRetry>();
        supervisor.RetryScheduled += r => { lock (retries) { retries.Add(r); } };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        // Clean end of stream, no DISCONNECT: what mosquitto does to a taken-over connection (and on shutdown). The
        // supervisor reconnects at once; the proxy (the broker behind it) accepts: a kick, not a restart.
        for (var i = 1; i <= 2; i++)
        {
            proxy.CloseAll();
            await TaskTimeouts.Eventually(() => proxy.Connections >= i + 1 && client.IsConnected, $"reconnected at once ({i})");
        }

        await TaskTimeouts.Eventually(() => supervisor.SuspectedTakeover, "suspected after two kicks");
        lock (retries)
        {
            Assert.Equal(2, retries.Count);
            Assert.All(retries, r => Assert.Equal(RetryClass.Immediate, r.RetryClass));
        }

        proxy.CloseAll(); // while suspected: no more immediate reconnects, the takeover delay
        await TaskTimeouts.Eventually(() => { lock (retries) { return retries.Count == 3; } }, "third retry scheduled");
        lock (retries)
        {
            Assert.Equal(RetryClass.Takeover, retries[2].RetryClass);
            Assert.True(retries[2].Delay >= options.Backoff.TakeoverDelay);
        }

        await Task.Delay(300);
        Assert.Equal(3, proxy.Connections);
        clock.Advance(options.Backoff.TakeoverDelay * 1.3); // past the takeover wait including jitter
        await TaskTimeouts.Eventually(() => proxy.Connections >= 4 && client.IsConnected, "reconnected after the takeover wait");
        clock.Advance(options.Backoff.StableAfter - TimeSpan.FromSeconds(5));
        await Task.Delay(300);
        Assert.True(supervisor.SuspectedTakeover, "cleared before StableAfter");

        clock.Advance(TimeSpan.FromSeconds(6));
        await TaskTimeouts.Eventually(() => !supervisor.SuspectedTakeover, "cleared while the connection is still up");
        Assert.True(client.IsConnected);
        var cleared = Assert.Single(_clients.Logs.Entries, e => e.Id.Id == 6105);
        Assert.Contains("stayed up", cleared.Message, StringComparison.Ordinal);
    }
}
