using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeGateway.Buffer.Tests;

public sealed class OptionsTests
{
    private static IConfigurationSection Section(Dictionary<string, string?> values)
        => new ConfigurationBuilder().AddInMemoryCollection(values).Build().GetSection("Buffer");

    [Fact]
    public void Bad_values_are_all_reported_with_their_full_keys()
    {
        var section = Section(new()
        {
            ["Buffer:MaxBytes"] = "1000",
            ["Buffer:BatchSize"] = "0",
            ["Buffer:IntakeCapacity"] = "2",
            ["Buffer:MaxAge"] = "-00:00:01",
            ["Buffer:Sinks:mqtt:InflightWindow"] = "0",
            ["Buffer:Sinks:mqtt:LiveShare"] = "1.5",
            ["Buffer:Sinks:mqtt:Downsample:drone/*/state"] = "00:00:00",
        });
        var ex = Assert.Throws<OptionsValidationFailedException>(() => new ServiceCollection().AddRecordBuffer(section));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:MaxBytes:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:BatchSize:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:IntakeCapacity:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:MaxAge:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:Sinks:mqtt:InflightWindow:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:Sinks:mqtt:LiveShare:", StringComparison.Ordinal));
        Assert.Contains(ex.Problems, p => p.StartsWith("Buffer:Sinks:mqtt:Downsample:drone/*/state:", StringComparison.Ordinal));
    }

    [Fact]
    public void Durability_per_kind_and_sink_settings_bind_from_configuration()
    {
        var section = Section(new()
        {
            ["Buffer:DataDirectory"] = "/var/lib/edge-gateway",
            ["Buffer:Durability:DroneState"] = "Full",
            ["Buffer:IntakeFullPolicy"] = "DropNewest",
            ["Buffer:Sinks:mqtt:MaxRecordsPerSecond"] = "500",
            ["Buffer:Sinks:mqtt:Downsample:drone/*/state"] = "00:00:01",
        });
        var services = new ServiceCollection().AddLogging().AddRecordBuffer(section);
        var options = services.BuildServiceProvider().GetRequiredService<BufferOptions>();
        Assert.Equal(Durability.Full, options.DurabilityFor(Records.RecordKind.DroneState));
        Assert.Equal(Durability.Normal, options.DurabilityFor(Records.RecordKind.SensorReading));
        Assert.Equal(Durability.Full, options.DurabilityFor(Records.RecordKind.CommandAudit));
        Assert.Equal(IntakeFullPolicy.DropNewest, options.IntakeFullPolicy);
        Assert.Equal(500, options.ForSink("MQTT").MaxRecordsPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(1), options.ForSink("mqtt").Downsample["drone/*/state"]);
        Assert.Equal(Path.GetFullPath("/var/lib/edge-gateway/buffer.db"), options.DatabasePath);
    }
}
