using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Simulator.Tests;

public sealed class HostingTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AddTelloSimulator_runs_the_configured_fleet_as_a_hosted_service()
    {
        using var commander = new TelloCommander();
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Simulator:Enabled"] = "true",
            ["Simulator:Drones"] = "2",
            ["Simulator:Address"] = "127.0.0.7",
            ["Simulator:CommandPort"] = "0",
            ["Simulator:StatePort"] = commander.StatePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Simulator:Format"] = "3.0",
            ["Simulator:TimeScale"] = "20",
            ["Simulator:Faults:Seed"] = "5",
            ["Simulator:Faults:LateReplyDelay"] = "00:00:02",
        }).Build();
        var logs = new TestLoggerProvider(output);
        var services = new ServiceCollection().AddLogging(b => b.AddProvider(logs));
        services.AddTelloSimulator(config.GetSection("Simulator"));
        await using var provider = services.BuildServiceProvider();

        var hosted = Assert.Single(provider.GetServices<IHostedService>());
        await hosted.StartAsync(CancellationToken.None).WithTimeout();
        var fleet = provider.GetRequiredService<TelloFleetHostedService>().Fleet!;
        Assert.Equal(2, fleet.Drones.Count);
        Assert.Equal(IPAddress.Parse("127.0.0.8"), fleet.Drones[1].CommandEndPoint.Address);
        Assert.Equal(TimeSpan.FromSeconds(2), fleet.Drones[0].Options.Faults.LateReplyDelay);
        commander.Drone = fleet.Drones[1].CommandEndPoint;
        Assert.Equal("ok", await commander.AskAsync("command"));
        Assert.Equal("30", await commander.AskAsync("sdk?"));
        await hosted.StopAsync(CancellationToken.None).WithTimeout();
        Assert.Null(provider.GetRequiredService<TelloFleetHostedService>().Fleet);
        logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Disabled_simulator_starts_nothing()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Simulator:Enabled"] = "false" }).Build();
        var services = new ServiceCollection().AddLogging();
        services.AddTelloSimulator(config.GetSection("Simulator"));
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<TelloFleetHostedService>().StartAsync(CancellationToken.None).WithTimeout();
        Assert.Null(provider.GetRequiredService<TelloFleetHostedService>().Fleet);
    }

    [Fact]
    public void Options_validation_names_every_bad_key()
    {
        var options = new SimulatorOptions { Drones = 0, Address = "nope", Format = "4.0" };
        options.Faults.GarbageDatagram = -1;
        var errors = options.Validate("Simulator").ToList();
        Assert.Contains(errors, e => e.StartsWith("Simulator:Drones: must be 1..100", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Simulator:Address: must be an IPv4 address", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Simulator:Format: must be 1.3, 2.0 or 3.0", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("Simulator:Faults:GarbageDatagram: must be a probability", StringComparison.Ordinal));

        var scale = new SimulatorOptions { TimeScale = 0, CommandPort = -5 }.Validate("Simulator").ToList();
        Assert.Contains(scale, e => e.StartsWith("Simulator:TimeScale: must be a number above 0", StringComparison.Ordinal));
        Assert.Contains(scale, e => e.StartsWith("Simulator:CommandPort: must be 0..65535", StringComparison.Ordinal));
        Assert.Empty(new SimulatorOptions().Validate("Simulator"));
    }
}
