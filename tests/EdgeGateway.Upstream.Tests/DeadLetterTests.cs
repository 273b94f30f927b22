using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Collections.Concurrent;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;
using EdgeGateway.Mqtt;
using EdgeGateway.Records;
using EdgeGateway.Upstream.Mqtt;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>The dead-letter table: what a broker refuses for good is kept (bounded) and the stream goes on.</summary>
public sealed class DeadLetterTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    /// <summary>A broker whose ACL lets anonymous clients write edge/gw1/drone/# and read edge/gw1/#: edge/gw1/secret/# gets 0x87.</summary>
    private static async Task<Mosquitto> StartAclBrokerAsync()
    {
        var broker = await Mosquitto.StartAsync();
        try
        {
            await File.WriteAllTextAsync(Path.Combine(broker.Directory, "acl"), "topic readwrite edge/gw1/drone/#\ntopic read edge/gw1/#\n");
            // The ACL file lives in the broker's own folder, known only once it has started: restart with it.
            await broker.StopGracefullyAsync();
            await File.AppendAllTextAsync(Path.Combine(broker.Directory, "mosquitto.conf"), $"acl_file {Path.Combine(broker.Directory, "acl")}\n");
            await broker.LaunchAsync();
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>A started MQTT sink (MQTT 5, no status topic, short backoff) for gateway gw1, connected to the broker.</summary>
    private async Task<MqttSink> StartSinkAsync(int port, string clientIdPrefix, DeadLetterStore deadLetters)
    {
        var options = new MqttSinkOptions
        {
            Enabled = true,
            Port = port,
            ClientId = clientIdPrefix + Guid.NewGuid().ToString("N")[..8],
            StatusTopic = "",
            Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
        };
        var sink = new MqttSink(options, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics, deadLetters: deadLetters);
        try
        {
            sink.Start();
            await TaskTimeouts.Eventually(() => sink.IsConnected, "connected");
            return sink;
        }
        catch
        {
            await sink.DisposeAsync();
            throw;
        }
    }

    private static BufferedRecord Record(long seq, string stream = "drone/tello-1/state", string payload = "{\"n\":1}")
        => new(seq, stream, RecordKind.DroneState, DateTimeOffset.UnixEpoch.AddSeconds(seq), TimeSource.Ntp, seq, Encoding.UTF8.GetBytes(payload));

    [Fact]
    public async Task A_publish_the_broker_acl_denies_gets_puback_0x87_and_lands_in_the_dead_letter_table_while_the_stream_goes_on()
    {
        // Anonymous clients may write edge/gw1/drone/#, read everything under edge/gw1; edge/gw1/secret/# is not writable.
        await using var broker = await StartAclBrokerAsync();

        var (subscriber, got) = await MqttSinkTests.SubscribeAsync(broker.Port, "edge/gw1/#");
        await using var _ = subscriber;
        using var dir = StoreDir.Create();
        using var deadLetters = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 100);
        await using var sink = await StartSinkAsync(broker.Port, "edgegw-acl-", deadLetters);
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var denied = await rig.WriteAsync("secret/keys", 2);
        await rig.WriteAsync("drone/tello-1/state", 3);

        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor passes the refused record (is {rig.Forwarder.Cursor})");
        await TaskTimeouts.Eventually(() => got.Count >= 2, "the records around it arrive");
        var seqs = got.Select(m => JsonDocument.Parse(m.Payload).RootElement.GetProperty("seq").GetInt64()).ToList();
        Assert.Equal([rig.Written[0], rig.Written[2]], seqs);

        var row = Assert.Single(deadLetters.Read(null, 0, 10));
        Assert.Equal(denied, row.Sequence);
        Assert.Equal("mqtt", row.Sink);
        Assert.Equal("secret/keys", row.Stream);
        Assert.Equal("edge/gw1/secret/keys", row.Topic);
        Assert.Equal(0x87, row.ReasonCode);
        Assert.Equal("RejectedByServer", row.Reason);
        Assert.Equal(2, JsonDocument.Parse(row.Payload).RootElement.GetProperty("n").GetInt32());
        Assert.Equal(0, sink.Reconnects);

        // Health shows it too.
        var health = Assert.Single(new UpstreamHealth([sink], TimeProvider.System, deadLetters).Report());
        Assert.Equal(1L, health.Details!["dead_lettered"]);
        Assert.Equal(1L, health.Details!["dead_letter_rows"]);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("dead-lettered", StringComparison.OrdinalIgnoreCase) || m.Contains("DeadLettered", StringComparison.Ordinal)
            || m.Contains("RejectedByServer", StringComparison.Ordinal));
    }

    [Fact]
    public void The_table_is_bounded_evicts_the_oldest_counts_evictions_and_survives_a_reopen()
    {
        using var dir = StoreDir.Create();
        var path = Path.Combine(dir.Path, "sub", DeadLetterStore.FileName);
        var clock = new ManualTimeProvider(DateTimeOffset.Parse("2026-11-22T05:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using (var store = new DeadLetterStore(path, 5, clock))
        {
            for (var i = 1; i <= 4; i++)
            {
                store.Add("mqtt", [Record(i), Record(100 + i, "sensor/gps0")], "edge/gw1/x", "RejectedByServer", 0x87, "Not authorized");
            }

            store.Add("relay", [Record(999)], "t", "PacketTooLarge", 0, "too big");
            Assert.Equal(5, store.Count);
            Assert.Equal(4, store.Evicted); // 9 rows into 5
            Assert.Equal(4, store.CountFor("mqtt"));
            Assert.Equal(1, store.CountFor("relay"));
            var all = store.Read(null, 0, 100);
            Assert.Equal([3, 103, 4, 104, 999], all.Select(e => e.Sequence));
            Assert.Equal(clock.GetUtcNow(), all[0].DeadLetteredAt);
            Assert.Equal(DateTimeOffset.UnixEpoch.AddSeconds(3), all[0].RecordTime);
            Assert.Equal([4, 104], store.Read("mqtt", all[1].Id, 2).Select(e => e.Sequence));
            Assert.Empty(store.Read("nope", 0, 10));
        }

        using (var reopened = new DeadLetterStore(path, 5, clock))
        {
            Assert.Equal(5, reopened.Count);
            Assert.Equal(4, reopened.Evicted);
            Assert.Equal(4, reopened.CountFor("mqtt")); // per-sink counts are loaded at open
            Assert.Equal(1, reopened.CountFor("relay"));
            Assert.Equal("{\"n\":1}", Encoding.UTF8.GetString(reopened.Read("relay", 0, 1)[0].Payload));
        }
    }

    [Fact]
    public void Bad_max_rows_is_refused_by_the_store_and_by_validation()
    {
        using var dir = StoreDir.Create();
        Assert.Throws<ArgumentOutOfRangeException>(() => new DeadLetterStore(Path.Combine(dir.Path, "x.db"), 0));
        var options = new UpstreamOptions { DeadLetters = { MaxRows = 0 } };
        Assert.Contains("Upstream:DeadLetters:MaxRows: must be 1..10000000 (got 0)", options.Validate("Upstream"));
    }

    [Fact]
    public async Task The_dead_letter_endpoint_lists_rows_pages_by_id_and_answers_400_to_bad_queries()
    {
        using var dir = StoreDir.Create();
        using var store = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 10);
        store.Add("mqtt", [Record(7), Record(8, payload: "not json")], "edge/gw1/drone/tello-1/state", "RejectedByServer", 0x87, "Not authorized");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(_logs);
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSingleton(store);
        await using var app = builder.Build();
        app.MapUpstreamEndpoints();
        await app.StartAsync().WithTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        using var http = new HttpClient { BaseAddress = new Uri(address) };

        var body = await http.GetFromJsonAsync<JsonElement>("/api/upstream/dead-letters?sink=mqtt").WithTimeout();
        Assert.True(body.GetProperty("success").GetBoolean());
        Assert.Equal(2, body.GetProperty("count").GetInt64());
        Assert.Equal(10, body.GetProperty("max_rows").GetInt32());
        var entries = body.GetProperty("entries").EnumerateArray().ToList();
        Assert.Equal(7, entries[0].GetProperty("seq").GetInt64());
        Assert.Equal(0x87, entries[0].GetProperty("reason_code").GetInt32());
        Assert.Equal("drone_state", entries[0].GetProperty("kind").GetString());
        Assert.Equal(1, entries[0].GetProperty("payload").GetProperty("n").GetInt32());
        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes("not json")), entries[1].GetProperty("payload_base64").GetString());

        var page = await http.GetFromJsonAsync<JsonElement>($"/api/upstream/dead-letters?after_id={entries[0].GetProperty("id").GetInt64()}&limit=1").WithTimeout();
        Assert.Equal(8, Assert.Single(page.GetProperty("entries").EnumerateArray().ToList()).GetProperty("seq").GetInt64());

        foreach (var (query, message) in new[]
                 {
                     ("limit=0", "limit must be an integer 1..1000 (got \"0\")"),
                     ("limit=5000", "limit must be an integer 1..1000 (got \"5000\")"),
                     ("after_id=-1", "after_id must be a non-negative integer (got \"-1\")"),
                     ("after_id=abc", "after_id must be a non-negative integer (got \"abc\")"),
                     ("sink=", "sink must be one sink name of at most 64 characters, e.g. mqtt"),
                     ("sink=a&sink=b", "sink must be one sink name of at most 64 characters, e.g. mqtt"),
                 })
        {
            using var response = await http.GetAsync("/api/upstream/dead-letters?" + query).WithTimeout();
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = await response.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
            Assert.False(error.GetProperty("success").GetBoolean());
            Assert.Equal(message, error.GetProperty("error").GetString());
        }

        await app.StopAsync().WithTimeout();
    }

    [Fact]
    public async Task AddUpstream_puts_the_table_next_to_the_buffer()
    {
        using var dir = StoreDir.Create();
        var config = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Buffer:DataDirectory"] = dir.Path,
            ["Upstream:GatewayId"] = "gw1",
            ["Upstream:Mqtt:Enabled"] = "true",
            ["Upstream:DeadLetters:MaxRows"] = "42",
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRecordBuffer(config.GetSection("Buffer"));
        services.AddUpstream(config.GetSection("Upstream"));
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<DeadLetterStore>();
        Assert.Equal(Path.Combine(Path.GetFullPath(dir.Path), DeadLetterStore.FileName), store.Path);
        Assert.Equal(42, store.MaxRows);
        Assert.Same(store, provider.GetRequiredService<MqttSink>().DeadLetters);
    }

    [Fact]
    public async Task A_dead_lettered_record_resent_after_a_rewind_is_acknowledged_at_once_without_a_publish_or_a_second_row()
    {
        // edge/gw1/secret/# is not writable: v5 PUBACK 0x87.
        await using var broker = await StartAclBrokerAsync();

        using var dir = StoreDir.Create();
        using var deadLetters = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 100);
        await using var sink = await StartSinkAsync(broker.Port, "edgegw-replay-", deadLetters);
        var acks = new RecordingAcks();
        var denied = Record(7, "secret/keys");
        Assert.Equal(SinkSendResult.Sent, await sink.SendAsync([denied], acks, CancellationToken.None).WithTimeout());
        await TaskTimeouts.Eventually(() => acks.Acked.Contains(7), "the refused record is acknowledged after its dead-letter write");
        Assert.Equal(1, deadLetters.CountFor("mqtt"));
        Assert.Equal(0, sink.Inflight); // released only after the write and the ack

        // The forwarder rewound and threw that ack away: it sends the record again. It must be acknowledged right here,
        // in SendAsync (a publish would only be acknowledged after a PUBACK), and not stored twice.
        acks.Acked.Clear();
        Assert.Equal(SinkSendResult.Sent, await sink.SendAsync([denied, Record(8)], acks, CancellationToken.None).WithTimeout());
        // 7 is acknowledged inside SendAsync, so it is there (and first) when SendAsync returns; 8's PUBACK may follow at any time.
        var afterSend = acks.Acked.ToArray();
        Assert.True(afterSend.Length > 0 && afterSend[0] == 7, $"acks right after SendAsync: [{string.Join(", ", afterSend)}]");
        await TaskTimeouts.Eventually(() => acks.Acked.Contains(8), "the next record is published and acknowledged");
        // Messages are answered in order: had 7 been published again, its PUBACK 0x87 would have come before 8's.
        Assert.Equal(1, deadLetters.CountFor("mqtt"));
        Assert.Single(deadLetters.Read(null, 0, 10));
        Assert.Equal(1, sink.DeadLettered);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("dead-lettered", StringComparison.OrdinalIgnoreCase) || m.Contains("DeadLettered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_broker_that_allows_only_qos_0_keeps_the_records_in_the_buffer_and_degrades_health()
    {
        await using var broker = await Mosquitto.StartAsync("max_qos 0");
        using var dir = StoreDir.Create();
        using var deadLetters = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 100);
        await using var sink = await StartSinkAsync(broker.Port, "edgegw-qos0-", deadLetters);
        Assert.Equal(0, sink.Client.ServerMaximumQos);
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        await rig.WriteAsync("drone/tello-1/state", 2);
        await TaskTimeouts.Eventually(() => rig.Forwarder.Rewinds >= 2, "the forwarder is refused and backs off, again");

        Assert.True(rig.Forwarder.Cursor < rig.Written[0], $"nothing acknowledged: the records stay in the buffer (cursor {rig.Forwarder.Cursor})");
        Assert.Equal(0, deadLetters.Count);
        Assert.Equal(0, sink.DeadLettered);
        var health = Assert.Single(new UpstreamHealth([sink], TimeProvider.System, deadLetters).Report());
        Assert.Equal(HealthState.Degraded, health.State);
        Assert.Contains("broker allows only QoS 0", health.Summary, StringComparison.Ordinal);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 6606);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("QoS 0", StringComparison.Ordinal) || m.Contains("refused", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public void Health_is_degraded_after_the_dead_letter_table_evicts_rows()
    {
        using var dir = StoreDir.Create();
        var clock = new ManualTimeProvider(DateTimeOffset.Parse("2026-11-22T05:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        using var store = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 2, clock);
        var link = new ConnectedLink();
        var health = new UpstreamHealth([link], clock, store);
        Assert.Equal(HealthState.Healthy, Assert.Single(health.Report()).State);

        store.Add("mqtt", [Record(1), Record(2), Record(3)], "t", "RejectedByServer", 0x87, "denied");
        var degraded = Assert.Single(health.Report());
        Assert.Equal(HealthState.Degraded, degraded.State);
        Assert.Contains("dead-letter table is full", degraded.Summary, StringComparison.Ordinal);
        Assert.Equal(1L, degraded.Details!["dead_letters_evicted"]);

        clock.Advance(UpstreamHealth.EvictionWindow + TimeSpan.FromSeconds(1));
        Assert.Equal(HealthState.Healthy, Assert.Single(health.Report()).State);
    }

    [Fact]
    public void A_dead_letter_file_that_is_not_a_database_is_moved_aside_and_recreated()
    {
        using var dir = StoreDir.Create();
        var path = Path.Combine(dir.Path, DeadLetterStore.FileName);
        var garbage = Encoding.UTF8.GetBytes(new string('x', 8192));
        File.WriteAllBytes(path, garbage);
        var clock = new ManualTimeProvider(DateTimeOffset.Parse("2026-11-22T05:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

        using (var store = new DeadLetterStore(path, 10, clock, _logs.CreateFactory().CreateLogger("test")))
        {
            Assert.Equal(0, store.Count);
            store.Add("mqtt", [Record(1)], "t", "RejectedByServer", 0x87, "denied");
            Assert.Equal(1, store.CountFor("mqtt"));
        }

        var moved = Path.Combine(dir.Path, DeadLetterStore.FileName + ".corrupt-20261122T050000Z");
        Assert.Equal(garbage, File.ReadAllBytes(moved)); // kept for inspection, untouched
        Assert.Contains(_logs.Entries, e => e.Id.Id == 6607 && e.Message.Contains(moved, StringComparison.Ordinal));
        using (var reopened = new DeadLetterStore(path, 10, clock))
        {
            Assert.Equal(1, reopened.Count); // the new file is a working table
        }

        _logs.AssertNoUnexpectedErrors(m => m.Contains("moved aside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_unwritable_dead_letter_directory_is_a_configuration_error_naming_the_key()
    {
        using var dir = StoreDir.Create();
        var blocker = Path.Combine(dir.Path, "not-a-dir");
        await File.WriteAllTextAsync(blocker, "a file where the directory should be");
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Upstream:GatewayId"] = "gw1",
            ["Upstream:Mqtt:Enabled"] = "true",
            ["Upstream:DeadLetters:Directory"] = Path.Combine(blocker, "sub"),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddUpstream(config.GetSection("Upstream"));
        await using var provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationFailedException>(() => provider.GetRequiredService<DeadLetterStore>());
        var problem = Assert.Single(e.Problems);
        Assert.StartsWith("Upstream:DeadLetters:Directory: cannot create or write the dead-letter table", problem, StringComparison.Ordinal);
    }

    private sealed class RecordingAcks : ISinkAcknowledger
    {
        public ConcurrentQueue<long> Acked { get; } = new();

        public void Acknowledge(long sequence) => Acked.Enqueue(sequence);

        public void ConnectionLost(string reason)
        {
        }
    }

    private sealed class ConnectedLink : IUpstreamLinkState
    {
        public string Name => "mqtt";

        public string Transport => "mqtt";

        public bool IsConnected => true;

        public int Inflight => 0;

        public DateTimeOffset? OldestUnacknowledged => null;

        public long Reconnects => 0;

        public long Acknowledged => 0;

        public string? LastError => null;
    }

    public void Dispose() => _metrics.Dispose();
}
