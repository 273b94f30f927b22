using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

[Collection("mosquitto")]
public sealed class SessionIntegrationTests(SharedMosquitto mosquitto, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Theory]
    [InlineData(MqttProtocolVersion.V311, false, 0, true)]
    [InlineData(MqttProtocolVersion.V311, true, 0, false)]
    [InlineData(MqttProtocolVersion.V500, false, 0, false)]
    [InlineData(MqttProtocolVersion.V500, false, 3600, true)]
    [InlineData(MqttProtocolVersion.V500, true, 3600, false)]
    public async Task Session_present_on_reconnect_follows_clean_start_and_expiry(MqttProtocolVersion version, bool clean, int expiry, bool expected)
    {
        var options = ClientFactory.Options(mosquitto.Port, ClientFactory.UniqueId("sp"), version);
        options.CleanStart = clean;
        options.SessionExpiry = TimeSpan.FromSeconds(expiry);
        var client = _clients.Client(options);
        var first = await client.ConnectAsync().WithTimeout();
        Assert.True(first.IsConnected, first.ToString());
        Assert.False(first.SessionPresent);
        await client.DisconnectAsync().WithTimeout();
        var second = await client.ConnectAsync().WithTimeout();
        Assert.True(second.IsConnected, second.ToString());
        Assert.Equal(expected, second.SessionPresent);
    }

    [Fact]
    public async Task V5_session_present_without_local_state_closes_and_reconnects_clean()
    {
        var id = ClientFactory.UniqueId("stale");
        var options = ClientFactory.Options(mosquitto.Port, id);
        options.CleanStart = false;
        options.SessionExpiry = TimeSpan.FromHours(1);
        var first = await _clients.ConnectedAsync(options);
        await first.DisconnectAsync().WithTimeout();

        // A new process (a new client object) has no session state, but the broker still has the session.
        var second = _clients.Client(options);
        var refused = await second.ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.SessionPresentWithoutState, refused.Outcome);
        var retry = await second.ConnectAsync().WithTimeout();
        Assert.True(retry.IsConnected);
        Assert.False(retry.SessionPresent);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Lost_puback_on_a_resumed_session_is_resent_with_dup_and_the_same_id(MqttProtocolVersion version)
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        proxy.CutOnPubAck = 3;
        var topic = $"test/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(mosquitto.Port, topic);
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("resume"), version);
        options.CleanStart = false;
        options.SessionExpiry = TimeSpan.FromHours(1);
        var client = _clients.Client(options);
        var states = new List<MqttConnectionStateChange>();
        client.StateChanged += s =>
        {
            lock (states)
            {
                states.Add(s);
            }
        };
        var supervisor = _clients.Supervisor(client);
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        var results = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => client.PublishAsync(topic, Encoding.UTF8.GetBytes($"m{i}")).AsTask())).WithTimeout(TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        lock (states)
        {
            Assert.Contains(states, s => s.State == MqttConnectionState.Connected && s.SessionPresent);
        }

        var firstConnection = proxy.Publishes.Where(p => p.Connection == 1).ToList();
        var resent = proxy.Publishes.Where(p => p.Connection == 2).TakeWhile(p => p.Dup).ToList();
        Assert.NotEmpty(resent);
        Assert.All(resent, r => Assert.Contains(firstConnection, f => f.Id == r.Id));
        // Original order: the resent ids appear in the same relative order as first sent.
        var order = resent.Select(r => firstConnection.FindIndex(f => f.Id == r.Id)).ToList();
        Assert.Equal(order.OrderBy(x => x), order);
        Assert.DoesNotContain(proxy.Publishes.Where(p => p.Connection == 2).SkipWhile(p => p.Dup), p => p.Dup);
        await mosquitto.Broker.WaitForLogAsync($"Received PUBLISH from {options.ClientId} \\(d1, q1");
        await TaskTimeouts.Eventually(() => received.Distinct().Count() == 10, "every message reached the subscriber");
    }

    [Fact]
    public async Task Lost_puback_on_a_new_session_republishes_with_fresh_ids_and_no_dup()
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        proxy.CutOnPubAck = 2;
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("fresh"), MqttProtocolVersion.V311);
        options.CleanStart = true;
        var client = _clients.Client(options);
        _clients.Supervisor(client).Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");
        var results = await Task.WhenAll(Enumerable.Range(0, 10)
            .Select(i => client.PublishAsync("test/fresh", Encoding.UTF8.GetBytes($"m{i}")).AsTask())).WithTimeout(TimeSpan.FromSeconds(30));
        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        Assert.True(proxy.Connections >= 2);
        Assert.DoesNotContain(proxy.Publishes, p => p.Dup);
        Assert.Contains(proxy.Publishes, p => p.Connection == 2);
    }

    [Fact]
    public async Task Will_is_published_retained_when_the_link_dies_and_not_after_a_graceful_disconnect()
    {
        await using var proxy = new MqttProxy(mosquitto.Port);
        var statusTopic = $"test/{Guid.NewGuid():N}/status";
        var options = ClientFactory.Options(proxy.Port, ClientFactory.UniqueId("will"));
        options.Will = new MqttWill { Topic = statusTopic, Payload = "offline", Retain = true };
        var client = await _clients.ConnectedAsync(options);
        Assert.True((await client.PublishAsync(statusTopic, "online"u8.ToArray(), retain: true).WithTimeout()).IsSuccess);
        var (_, received) = await _clients.SubscriberAsync(mosquitto.Port, statusTopic);
        await TaskTimeouts.Eventually(() => received.Contains("online"), "retained online seen");

        proxy.CutAll();
        await TaskTimeouts.Eventually(() => received.Contains("offline"), "will delivered after the link died");

        // Graceful: reconnect, publish online, disconnect; no new "offline" may follow.
        var again = await client.ConnectAsync().WithTimeout();
        Assert.True(again.IsConnected);
        Assert.True((await client.PublishAsync(statusTopic, "online"u8.ToArray(), retain: true).WithTimeout()).IsSuccess);
        await TaskTimeouts.Eventually(() => received.Count(r => r == "online") >= 2, "second online");
        var before = received.Count;
        await client.DisconnectAsync().WithTimeout();
        await Task.Delay(1500);
        Assert.Equal(before, received.Count);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task Password_right_connects_and_wrong_is_refused_with_a_long_backoff(MqttProtocolVersion version)
    {
        var good = ClientFactory.Options(mosquitto.PasswordPort, ClientFactory.UniqueId("auth"), version);
        good.UserName = "gateway";
        good.Password = "s3cret";
        await _clients.ConnectedAsync(good);

        var bad = ClientFactory.Options(mosquitto.PasswordPort, ClientFactory.UniqueId("auth"), version);
        bad.UserName = "gateway";
        bad.Password = "wrong";
        var client = _clients.Client(bad);
        var result = await client.ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.Refused, result.Outcome);
        Assert.Contains(result.ReasonCode, new byte[] { 0x86, 0x87 });

        // The supervisor backs off long and says why; a manual clock proves no second attempt happens meanwhile.
        var clock = new ManualTimeProvider();
        var retries = new List<MqttRetry>();
        var supervisor = _clients.Supervisor(client, clock);
        supervisor.RetryScheduled += r =>
        {
            lock (retries)
            {
                retries.Add(r);
            }
        };
        supervisor.Start();
        await TaskTimeouts.Eventually(() => retries.Count == 1, "one retry scheduled");
        await Task.Delay(1000);
        Assert.Equal(1, supervisor.ConnectAttempts);
        Assert.Equal(RetryClass.Refused, retries[0].RetryClass);
        Assert.True(retries[0].Delay >= bad.Backoff.RefusedDelay);
        Assert.Contains(_clients.Logs.Entries, e => e.Id.Id == 6101 && e.Message.Contains("Refused", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Subscription_receives_and_acknowledges_inbound_qos1()
    {
        var topic = $"test/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(mosquitto.Port, topic, MqttProtocolVersion.V311);
        var pub = await _clients.ConnectedAsync(ClientFactory.Options(mosquitto.Port, ClientFactory.UniqueId("p")));
        for (var i = 0; i < 50; i++)
        {
            await pub.PublishAsync(topic, Encoding.UTF8.GetBytes(i.ToString())).WithTimeout();
        }

        await TaskTimeouts.Eventually(() => received.Count == 50, "50 received");
        Assert.Equal(Enumerable.Range(0, 50).Select(i => i.ToString()), received);
    }
}

[Collection("mosquitto")]
public sealed class ReasonCodeIntegrationTests(SharedMosquitto mosquitto, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    [Fact]
    public async Task V5_puback_not_authorized_is_dead_lettered_and_the_next_message_still_flows()
    {
        var options = ClientFactory.Options(mosquitto.PasswordPort, ClientFactory.UniqueId("acl"));
        options.UserName = "gateway";
        options.Password = "s3cret";
        var client = await _clients.ConnectedAsync(options);
        var letters = new List<MqttDeadLetter>();
        client.DeadLettered += d => letters.Add(d);

        var denied = await client.PublishAsync("denied/x", "secret"u8.ToArray()).WithTimeout();
        var allowed = await client.PublishAsync("test/acl", "ok"u8.ToArray()).WithTimeout();

        Assert.Equal(PublishStatus.DeadLettered, denied.Status);
        Assert.Equal(MqttReasonCodes.NotAuthorized, denied.ReasonCode);
        Assert.Equal(DeadLetterReason.RejectedByServer, denied.DeadLetterReason);
        var letter = Assert.Single(letters);
        Assert.Equal("denied/x", letter.Topic);
        Assert.Equal("secret", Encoding.UTF8.GetString(letter.Payload.Span));
        Assert.Equal(PublishStatus.Acknowledged, allowed.Status);
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task V311_acl_denial_looks_like_success_which_is_why_v5_is_the_default()
    {
        var options = ClientFactory.Options(mosquitto.PasswordPort, ClientFactory.UniqueId("acl3"), MqttProtocolVersion.V311);
        options.UserName = "gateway";
        options.Password = "s3cret";
        var client = await _clients.ConnectedAsync(options);
        var denied = await client.PublishAsync("denied/x", "x"u8.ToArray()).WithTimeout();
        Assert.Equal(PublishStatus.Acknowledged, denied.Status); // rule 3: a 3.1.1 PUBACK does not mean accepted
    }
}
