using EdgeGateway.Mqtt.Protocol;

namespace EdgeGateway.Mqtt.Tests;

public sealed class TextAndAllocatorTests
{
    [Fact]
    public void Lone_surrogates_are_rejected_not_replaced()
    {
        Assert.False(MqttText.IsValidTopicName("a" + (char)0xD800 + "b", out _));
        Assert.False(MqttText.IsValidTopicName("a" + (char)0xDC00, out _));
        Assert.True(MqttText.IsValidTopicName("a" + (char)0xD83D + (char)0xDE00, out var n));
        Assert.Equal(5, n);
    }

    [Theory]
    [InlineData("nul\0here")]
    [InlineData("wild/+/card")]
    [InlineData("multi/#")]
    [InlineData("")]
    public void Invalid_publish_topics_are_rejected_before_enqueue(string topic) =>
        Assert.False(MqttText.IsValidTopicName(topic, out _));

    [Fact]
    public void A_leading_bom_is_kept_and_counted_not_stripped()
    {
        Assert.True(MqttText.IsValidTopicName("\uFEFFtele", out var bytes));
        Assert.Equal(7, bytes);
        var encoded = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V311, "\uFEFFtele", bytes, [], MqttQualityOfService.AtMostOnce, false, false, 0, null, 0));
        Assert.Equal("EFBBBF", Hex.Format(encoded.AsSpan(4, 3)));
    }

    [Theory]
    [InlineData("tele/#", true)]
    [InlineData("gw/+/status", true)]
    [InlineData("#", true)]
    [InlineData("a/#/b", false)]
    [InlineData("a/b#", false)]
    [InlineData("a+/b", false)]
    public void Subscribe_filters_follow_the_wildcard_rules(string filter, bool valid) =>
        Assert.Equal(valid, MqttText.IsValidTopicFilter(filter, out _));

    [Fact]
    public async Task Invalid_topic_is_dead_lettered_not_sent()
    {
        await using var client = new MqttClient(new MqttClientOptions { ClientId = "t" });
        MqttDeadLetter? letter = null;
        client.DeadLettered += d => letter = d;
        var result = await client.PublishAsync("a/+", "x"u8.ToArray()).WithTimeout();
        Assert.Equal(PublishStatus.DeadLettered, result.Status);
        Assert.Equal(DeadLetterReason.InvalidMessage, letter?.Reason);
    }

    [Fact]
    public void Allocator_never_issues_an_id_in_use_or_zero_across_a_million_random_cycles()
    {
        var ids = new PacketIdAllocator();
        var random = new Random(42);
        var held = new List<ushort>();
        var inUse = new HashSet<ushort>();
        var wrapped = 0;
        ushort last = 0;
        for (var i = 0; i < 1_000_000; i++)
        {
            if (held.Count < 2_000 && (held.Count == 0 || random.Next(3) != 0))
            {
                Assert.True(ids.TryAllocate(out var id));
                Assert.NotEqual(0, id);
                Assert.True(inUse.Add(id), $"id {id} issued while in use");
                held.Add(id);
                if (id < last)
                {
                    wrapped++;
                }

                last = id;
            }
            else
            {
                var index = random.Next(held.Count);
                var id = held[index];
                held[index] = held[^1];
                held.RemoveAt(held.Count - 1);
                Assert.True(ids.Release(id));
                inUse.Remove(id);
            }
        }

        Assert.True(wrapped > 5, "the test must wrap past 65535 several times");
    }

    [Fact]
    public void Allocator_exhaustion_blocks_instead_of_wrapping_onto_used_ids()
    {
        var ids = new PacketIdAllocator();
        for (var i = 0; i < 65_535; i++)
        {
            Assert.True(ids.TryAllocate(out _));
        }

        Assert.False(ids.TryAllocate(out var none));
        Assert.Equal(0, none);
        Assert.True(ids.Release(777));
        Assert.False(ids.Release(777)); // double release is refused
        Assert.True(ids.TryAllocate(out var again));
        Assert.Equal(777, again);
    }

    [Fact]
    public void Backoff_is_capped_exponential_with_bounded_jitter()
    {
        var options = new MqttBackoffOptions
        {
            InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(60), Jitter = 0.25,
            RefusedDelay = TimeSpan.FromSeconds(120), TakeoverDelay = TimeSpan.FromSeconds(300),
        };
        var backoff = new ReconnectBackoff(options, new Random(7));
        var delays = Enumerable.Range(0, 12).Select(_ => backoff.Next(RetryClass.Normal).TotalSeconds).ToList();
        for (var i = 0; i < delays.Count; i++)
        {
            var nominal = Math.Min(60, Math.Pow(2, i));
            Assert.InRange(delays[i], nominal * 0.75, nominal * 1.25);
        }

        Assert.InRange(backoff.Next(RetryClass.Refused).TotalSeconds, 60 * 0.75, 150);
        backoff.Reset();
        Assert.InRange(backoff.Next(RetryClass.Refused).TotalSeconds, 120, 150);
        Assert.InRange(backoff.Next(RetryClass.Takeover).TotalSeconds, 300, 375);
        Assert.Equal(TimeSpan.Zero, backoff.Next(RetryClass.Immediate));
    }

    [Theory]
    [InlineData(0x8E, RetryClass.Takeover)]
    [InlineData(0x86, RetryClass.Refused)]
    [InlineData(0x87, RetryClass.Refused)]
    [InlineData(0x8A, RetryClass.Refused)]
    [InlineData(0x89, RetryClass.Refused)]
    [InlineData(0x9F, RetryClass.Refused)]
    [InlineData(0x8B, RetryClass.Normal)]
    [InlineData(0x95, RetryClass.Normal)]
    [InlineData(0x8D, RetryClass.Normal)]
    public void Server_disconnect_reasons_map_to_a_retry_class(byte code, RetryClass expected) =>
        Assert.Equal(expected, ReconnectBackoff.Classify(new MqttDisconnectInfo(DisconnectKind.ServerDisconnect, code, "", TimeSpan.Zero)));

    [Theory]
    [InlineData(4, RetryClass.Refused)]
    [InlineData(5, RetryClass.Refused)]
    [InlineData(3, RetryClass.Refused)]
    [InlineData(2, RetryClass.Refused)]
    public void Connack_311_codes_map_like_their_50_equivalents(byte code, RetryClass expected) =>
        Assert.Equal(expected, ReconnectBackoff.Classify(new MqttConnectResult(ConnectOutcome.Refused, MqttReasonCodes.FromV311ConnAck(code))));

    [Fact]
    public void Options_validation_names_every_bad_key()
    {
        var problems = new MqttClientOptions
        {
            ClientId = "", Port = 70000, MaxInflight = 0, KeepAlive = TimeSpan.FromDays(2), ConnAckTimeout = TimeSpan.Zero,
            Will = new MqttWill { Topic = "a/#" },
        }.Validate("Upstream:Mqtt").ToList();
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:ClientId:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:Port:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:MaxInflight:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:KeepAlive:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:ConnAckTimeout:", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Upstream:Mqtt:Will:Topic:", StringComparison.Ordinal));
    }
}
