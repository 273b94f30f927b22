using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// The supervisor must tell a broker restart (mosquitto closes every client, and its listener first) from another
/// client with our client id (mosquitto closes the older connection and keeps accepting): the first must cost seconds,
/// the second must not become a reconnect fight. Real Mosquitto, real clock.
/// </summary>
public sealed class RestartOrTwinTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _clients.DisposeAsync();

    /// <summary>The production backoff (1 s doubling, ±25 %, takeover guess on) with the test's short timeouts.</summary>
    private static MqttClientOptions DefaultBackoff(int port, string id)
    {
        var o = ClientFactory.Options(port, id);
        o.Backoff = new MqttBackoffOptions();
        return o;
    }

    [Fact]
    public async Task Graceful_broker_restarts_cost_seconds_each_lose_nothing_and_are_never_taken_for_a_twin()
    {
        // 8 restarts 3 s apart in the suite; the issue's longer run is EDGEGW_RESTARTS=24 EDGEGW_RESTART_INTERVAL=5.
        var restarts = int.TryParse(Environment.GetEnvironmentVariable("EDGEGW_RESTARTS"), out var n) ? n : 8;
        var interval = TimeSpan.FromSeconds(double.TryParse(Environment.GetEnvironmentVariable("EDGEGW_RESTART_INTERVAL"),
            System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : 3);
        await using var broker = await MosquittoBroker.StartPlainAsync();
        var topic = "restart/" + Guid.NewGuid().ToString("N")[..8];

        // Subscriber: persistent v5 session, so what the broker accepted while it was away is delivered later
        // (mosquitto saves sessions and queued messages on SIGTERM).
        var subOptions = DefaultBackoff(broker.Port, ClientFactory.UniqueId("rsub"));
        subOptions.CleanStart = false;
        subOptions.SessionExpiry = TimeSpan.FromHours(1);
        subOptions.ReceiveMaximum = 1000;
        var subscriber = _clients.Client(subOptions);
        var arrivals = new ConcurrentDictionary<long, long>();
        subscriber.MessageReceived = (m, _) =>
        {
            arrivals.TryAdd(long.Parse(Encoding.ASCII.GetString(m.Payload.Span)), Stopwatch.GetTimestamp());
            return ValueTask.CompletedTask;
        };
        var subSupervisor = _clients.Supervisor(subscriber, seed: 11);
        subSupervisor.Start();
        await TaskTimeouts.Eventually(() => subscriber.IsConnected, "subscriber connected");
        Assert.Equal(SubscribeStatus.Completed, (await subscriber.SubscribeAsync([new MqttSubscription(topic)]).WithTimeout()).Status);

        var publisher = _clients.Client(DefaultBackoff(broker.Port, ClientFactory.UniqueId("rpub")));
        var supervisor = _clients.Supervisor(publisher, seed: 7);
        var retries = new ConcurrentQueue<MqttRetry>();
        supervisor.RetryScheduled += retries.Enqueue;
        subSupervisor.RetryScheduled += retries.Enqueue;
        var everSuspected = false;
        supervisor.Start();
        await TaskTimeouts.Eventually(() => publisher.IsConnected, "publisher connected");

        // One record every 50 ms, taken whether or not the link is up (it waits in the client meanwhile).
        var taken = new ConcurrentDictionary<long, long>();
        var publishes = new List<Task<PublishResult>>();
        using var stopProducing = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            for (long seq = 1; !stopProducing.IsCancellationRequested; seq++)
            {
                taken[seq] = Stopwatch.GetTimestamp();
                var publish = publisher.PublishAsync(topic, Encoding.ASCII.GetBytes(seq.ToString()), MqttQualityOfService.AtLeastOnce).AsTask();
                lock (publishes)
                {
                    publishes.Add(publish);
                }

                everSuspected |= supervisor.SuspectedTakeover || subSupervisor.SuspectedTakeover;
                await Task.Delay(50);
            }
        });

        var latencies = new List<TimeSpan>();
        for (var r = 1; r <= restarts; r++)
        {
            await Task.Delay(interval);
            await broker.StopAsync();
            await broker.StartProcessAsync(); // returns once the port accepts: the listen time (within its 50 ms poll)
            var listening = Stopwatch.GetTimestamp();
            long first = 0;
            await TaskTimeouts.Eventually(() =>
            {
                first = taken.Where(t => t.Value >= listening).Select(t => t.Key).DefaultIfEmpty(0).Min();
                return first > 0 && arrivals.ContainsKey(first);
            }, () => $"restart {r}: the first record taken after the broker listened again (#{first}) reaches the subscriber", TimeSpan.FromSeconds(30));
            var latency = Stopwatch.GetElapsedTime(listening, arrivals[first]);
            latencies.Add(latency);
            output.WriteLine($"restart {r}: record #{first} delivered {latency.TotalSeconds:0.00} s after the broker listened");
        }

        await stopProducing.CancelAsync();
        await producer.WithTimeout();
        Task<PublishResult>[] all;
        lock (publishes)
        {
            all = [.. publishes];
        }

        var results = await Task.WhenAll(all).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.All(results, p => Assert.Equal(PublishStatus.Acknowledged, p.Status));
        await TaskTimeouts.Eventually(() => arrivals.Count >= all.Length, () => $"all {all.Length} records delivered (got {arrivals.Count})", TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(1, all.Length).Select(i => (long)i), arrivals.Keys.Order());
        // First deliveries in publish order (the handler runs serially, so arrival stamps follow arrival order).
        var outOfOrder = Enumerable.Range(1, all.Length - 1).Count(i => arrivals[i + 1] < arrivals[i]);
        Assert.Equal(0, outOfOrder);

        // The target is 3 s; the bound is generous for a loaded 2-core machine, the backoff check below is the strict one.
        output.WriteLine($"latencies: {string.Join(", ", latencies.Select(l => l.TotalSeconds.ToString("0.00")))}");
        Assert.All(latencies, l => Assert.True(l < TimeSpan.FromSeconds(8), $"resumed only after {l.TotalSeconds:0.0} s"));
        Assert.False(everSuspected || supervisor.SuspectedTakeover || subSupervisor.SuspectedTakeover, "a restart was taken for a twin");
        Assert.DoesNotContain(_clients.Logs.Entries, e => e.Id.Id is 6104 or 6102);
        var waits = retries.ToArray();
        output.WriteLine($"retries: {string.Join(", ", waits.Select(w => $"{w.RetryClass} {w.Delay.TotalSeconds:0.00}s"))}");
        Assert.All(waits, w => Assert.NotEqual(RetryClass.Takeover, w.RetryClass));
        // Reset after each proven connection: InitialDelay, at most doubled once or twice (the broker's start on a
        // loaded machine), never the 65 s or 5 min seen before.
        Assert.All(waits, w => Assert.True(w.Delay <= TimeSpan.FromSeconds(5), $"waited {w.Delay} ({w.Why})"));
        // Each restart was recognised as such: the reconnect made at once after the close was refused.
        Assert.True(waits.Count(w => w.RetryClass == RetryClass.Immediate) >= restarts, "clean closes were answered with an immediate reconnect");
    }

    [Fact]
    public async Task A_twin_with_our_client_id_is_detected_backed_off_from_and_left_behind_when_it_goes()
    {
        await using var broker = await MosquittoBroker.StartPlainAsync();
        var id = ClientFactory.UniqueId("twin");
        var options = ClientFactory.Options(broker.Port, id);
        options.Backoff.TakeoverDelay = TimeSpan.FromSeconds(4);
        options.Backoff.StableAfter = TimeSpan.FromSeconds(3);
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        var retries = new ConcurrentQueue<MqttRetry>();
        supervisor.RetryScheduled += retries.Enqueue;
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");

        // The twin: a second, independent client with the same id that reconnects 300 ms after being kicked
        // (as mosquitto_sub or libmosquitto do).
        var twin = _clients.Client(ClientFactory.Options(broker.Port, id));
        using var twinLeaves = new CancellationTokenSource();
        var twinLoop = Task.Run(async () =>
        {
            while (!twinLeaves.IsCancellationRequested)
            {
                if (!twin.IsConnected)
                {
                    await twin.ConnectAsync(twinLeaves.Token);
                }

                await Task.Delay(300, twinLeaves.Token);
            }
        });

        await TaskTimeouts.Eventually(() => supervisor.SuspectedTakeover, "the twin is detected", TimeSpan.FromSeconds(30));
        var warning = Assert.Single(_clients.Logs.Entries, e => e.Id.Id == 6104);
        Assert.Contains("client id in use", warning.Message, StringComparison.Ordinal);
        Assert.Contains(id, warning.Message, StringComparison.Ordinal);
        await TaskTimeouts.Eventually(() => retries.Any(r => r.RetryClass == RetryClass.Takeover), "backed off with the takeover delay");
        Assert.All(retries.Where(r => r.RetryClass == RetryClass.Takeover), r => Assert.True(r.Delay >= options.Backoff.TakeoverDelay));
        // No fight: while suspected, at most one attempt per takeover delay.
        var attempts = supervisor.ConnectAttempts;
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.True(supervisor.ConnectAttempts <= attempts + 1, $"attempts {attempts} -> {supervisor.ConnectAttempts} within 3 s");

        await twinLeaves.CancelAsync();
        try
        {
            await twinLoop.WithTimeout();
        }
        catch (OperationCanceledException)
        {
        }

        await twin.DisconnectAsync().WithTimeout();
        await TaskTimeouts.Eventually(() => client.IsConnected && !supervisor.SuspectedTakeover,
            "recovered: connected again and no longer suspecting a twin", TimeSpan.FromSeconds(30));
        var result = await client.PublishAsync("twin/after", "ok"u8.ToArray(), MqttQualityOfService.AtLeastOnce).AsTask().WithTimeout();
        Assert.Equal(PublishStatus.Acknowledged, result.Status);
        Assert.Contains(_clients.Logs.Entries, e => e.Id.Id == 6105);
    }
}
