using System.Diagnostics.Metrics;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

public sealed class CompositionTests(ITestOutputHelper output)
{
    [Fact]
    public async Task AddDrones_registers_a_fleet_a_hosted_service_and_a_health_reporter_that_work()
    {
        await using var fake = new FakeTello("127.0.0.2");
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Drones:Items:0:Id"] = "alpha",
            ["Drones:Items:0:Address"] = fake.AddressText,
            ["Drones:LocalAddress"] = "127.0.0.1",
            ["Drones:CommandPort"] = "0",
            ["Drones:StatePort"] = "0",
            ["Drones:ReconnectInterval"] = "00:00:00.300",
        }).Build();
        var logs = new TestLoggerProvider(output);
        var services = new ServiceCollection();
        services.AddLogging(b => b.AddProvider(logs));
        services.AddMetrics();
        services.AddSingleton<IRecordWriter>(new RecordIntake(1000));
        services.AddSingleton(new LoopHeartbeatRegistry(TimeProvider.System));
        services.AddDrones(config.GetSection("Drones"));
        await using var provider = services.BuildServiceProvider();

        var fleet = provider.GetRequiredService<IDroneFleet>();
        Assert.Equal("alpha", Assert.Single(fleet.Drones).Id);
        Assert.Empty(provider.GetRequiredService<DroneOptions>().Validate("Drones"));
        var hosted = Assert.Single(provider.GetServices<IHostedService>());
        var reporter = Assert.Single(provider.GetServices<IHealthReporter>());

        await hosted.StartAsync(CancellationToken.None).WithTimeout();
        Assert.Contains("drones.supervisor", provider.GetRequiredService<LoopHeartbeatRegistry>().Snapshot().Select(b => b.Name));
        Assert.Equal(HealthState.Degraded, Assert.Single(reporter.Report()).State); // connecting
        fake.StateTarget = ((TelloFleet)fleet).StateEndPoint;
        await TaskTimeouts.Eventually(() => fleet.Drones[0].Status.Health == DroneLinkHealth.Fresh, "fresh");
        var health = Assert.Single(reporter.Report());
        Assert.Equal("drone/alpha", health.Component);
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(87, health.Details!["battery_percent"]);

        Assert.Equal(DroneCommandOutcome.Ok, (await fleet.Find("alpha")!.ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout()).Outcome);
        await hosted.StopAsync(CancellationToken.None).WithTimeout();
        logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Meter_reports_state_commands_latency_resyncs_bad_datagrams_and_health()
    {
        await using var fake = new FakeTello("127.0.0.2");
        using var meterFactory = new TestMeterFactory();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (meterFactory.Meters.Contains(instrument.Meter))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => seen.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => seen.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<int>((i, v, tags, _) => seen[i.Name] = v);
        listener.Start();

        var logs = new TestLoggerProvider(output);
        var options = FleetHarness.Options(fake.AddressText);
        await using var fleet = new TelloFleet(options, new RecordIntake(1000), new EdgeGateway.Time.SystemWallClock(TimeProvider.System),
            TimeProvider.System, logs.CreateFactory(), meterFactory);
        await fleet.StartAsync();
        fake.StateTarget = fleet.StateEndPoint;
        await TaskTimeouts.Eventually(() => fleet.Drones[0].Status.Health == DroneLinkHealth.Fresh, "fresh");
        fake.Next("battery?", "ok");
        await fleet.Drones[0].ExecuteAsync(TelloCommand.ReadOf(TelloRead.Battery)).WithTimeout();
        fake.SendFromStateSocket([0xCC, 0x00, 0x01]);
        await TaskTimeouts.Eventually(() => seen.ContainsKey("edge_drone_bad_datagrams"), "bad datagram measured");
        listener.RecordObservableInstruments();

        Assert.True(seen["edge_drone_state_datagrams"] >= 1);
        Assert.True(seen["edge_drone_commands"] >= 2); // command + battery?
        Assert.True(seen.ContainsKey("edge_drone_command_latency_seconds"));
        Assert.Equal(1, seen["edge_drone_resyncs"]);
        Assert.Equal((int)DroneLinkHealth.Fresh, seen["edge_drone_link_health_state"]);
    }

    private sealed class TestMeterFactory : IMeterFactory
    {
        public List<Meter> Meters { get; } = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version);
            Meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var m in Meters)
            {
                m.Dispose();
            }
        }
    }
}
