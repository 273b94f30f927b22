using EdgeGateway.Buffer;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>Upstream:Mqtt keys the client would refuse are refused at validation (exit 78), not at service resolution.</summary>
public sealed class UpstreamOptionsTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    private static List<string> Problems(params (string Key, string Value)[] settings)
    {
        var values = new Dictionary<string, string?> { ["Upstream:GatewayId"] = "gw1", ["Upstream:Mqtt:Enabled"] = "true" };
        foreach (var (key, value) in settings)
        {
            values[key] = value;
        }

        var config = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        try
        {
            services.AddUpstream(config.GetSection("Upstream"));
            return [];
        }
        catch (OptionsValidationFailedException e)
        {
            return [.. e.Problems];
        }
    }

    [Theory]
    [InlineData("Upstream:Mqtt:Backoff:SuspectTakeoverCloses", "-1", "Upstream:Mqtt:Backoff:SuspectTakeoverCloses: must be 0 (off) .. 100 (got -1)")]
    [InlineData("Upstream:Mqtt:Backoff:SuspectTakeoverCloses", "101", "Upstream:Mqtt:Backoff:SuspectTakeoverCloses: must be 0 (off) .. 100 (got 101)")]
    [InlineData("Upstream:Mqtt:Backoff:SuspectTakeoverWindow", "00:00:00", "Upstream:Mqtt:Backoff:SuspectTakeoverWindow: must be a positive time span (got 00:00:00)")]
    [InlineData("Upstream:Relay:Backoff:SuspectTakeoverWindow", "-00:00:01", "Upstream:Relay:Backoff:SuspectTakeoverWindow: must be a positive time span (got -00:00:01)")]
    [InlineData("Upstream:Mqtt:MaximumOutgoingPacketSize", "127", "Upstream:Mqtt:MaximumOutgoingPacketSize: must be 128..268435460 bytes (got 127)")]
    [InlineData("Upstream:Mqtt:MaximumOutgoingPacketSize", "268435461", "Upstream:Mqtt:MaximumOutgoingPacketSize: must be 128..268435460 bytes (got 268435461)")]
    [InlineData("Upstream:Mqtt:PoisonDropLimit", "-1", "Upstream:Mqtt:PoisonDropLimit: must be 0 (off) .. 100 (got -1)")]
    [InlineData("Upstream:Mqtt:PoisonDropLimit", "101", "Upstream:Mqtt:PoisonDropLimit: must be 0 (off) .. 100 (got 101)")]
    public void A_value_the_mqtt_client_would_refuse_is_a_validation_problem(string key, string value, string expected)
    {
        var extra = key.StartsWith("Upstream:Relay", StringComparison.Ordinal)
            ? new[] { (key, value), ("Upstream:Relay:Enabled", "true"), ("Upstream:Relay:Url", "ws://127.0.0.1:1/x"), ("Upstream:Relay:Token", "t") }
            : [(key, value)];
        Assert.Equal([expected], Problems(extra));
    }

    [Fact]
    public async Task Edge_values_are_accepted_and_reach_the_mqtt_client()
    {
        Assert.Empty(Problems(("Upstream:Mqtt:Backoff:SuspectTakeoverCloses", "0"), ("Upstream:Mqtt:MaximumOutgoingPacketSize", "128"),
            ("Upstream:Mqtt:PoisonDropLimit", "0")));
        using var dir = StoreDir.Create();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Upstream:GatewayId"] = "gw1",
            ["Upstream:Mqtt:Enabled"] = "true",
            ["Upstream:Mqtt:MaximumOutgoingPacketSize"] = "4096",
            ["Upstream:Mqtt:PoisonDropLimit"] = "7",
            ["Upstream:Mqtt:Backoff:SuspectTakeoverCloses"] = "0",
            ["Upstream:DeadLetters:Directory"] = dir.Path,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddUpstream(config.GetSection("Upstream"));
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<MqttSink>().Client; // the MqttClient constructor validates its options too
        Assert.Equal(4096, client.Options.MaximumOutgoingPacketSize);
        Assert.Equal(7, client.Options.PoisonDropLimit);
        Assert.Equal(0, client.Options.Backoff.SuspectTakeoverCloses);
    }

    [Fact]
    public async Task A_record_above_the_configured_outgoing_packet_size_is_dead_lettered_unsent()
    {
        await using var broker = await Mosquitto.StartAsync();
        using var dir = StoreDir.Create();
        using var deadLetters = new DeadLetterStore(Path.Combine(dir.Path, DeadLetterStore.FileName), 100);
        var options = new MqttSinkOptions
        {
            Enabled = true,
            Port = broker.Port,
            ClientId = "edgegw-maxout-" + Guid.NewGuid().ToString("N")[..8],
            StatusTopic = "",
            MaximumOutgoingPacketSize = 2048,
            Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromMilliseconds(100), MaxDelay = TimeSpan.FromSeconds(1) },
        };
        await using var sink = new MqttSink(options, "gw1", TimeProvider.System, _logs.CreateFactory(), _metrics, deadLetters: deadLetters);
        sink.Start();
        await TaskTimeouts.Eventually(() => sink.IsConnected, "connected");
        await using var rig = new BufferRig(sink, _logs);
        await rig.WriteAsync("drone/tello-1/state", 1);
        var big = await rig.WriteBigAsync("drone/tello-1/state", 4 * 1024);
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"cursor passes the big record (is {rig.Forwarder.Cursor})");

        var row = Assert.Single(deadLetters.Read("mqtt", 0, 10));
        Assert.Equal(big, row.Sequence);
        Assert.Equal("PacketTooLarge", row.Reason);
        Assert.Equal(0, sink.Reconnects);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("dead-lettered", StringComparison.OrdinalIgnoreCase) || m.Contains("PacketTooLarge", StringComparison.Ordinal));
    }

    public void Dispose() => _metrics.Dispose();
}
