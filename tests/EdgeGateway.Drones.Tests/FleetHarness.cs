using System.Net;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Time;
using Xunit.Abstractions;

namespace EdgeGateway.Drones.Tests;

/// <summary>A started <see cref="TelloFleet"/> on 127.0.0.1 with ephemeral ports and short, load-tolerant timeouts.</summary>
internal sealed class FleetHarness : IAsyncDisposable
{
    private FleetHarness(TelloFleet fleet, RecordIntake records, TestLoggerProvider logs)
    {
        Fleet = fleet;
        Records = records;
        Logs = logs;
    }

    public TelloFleet Fleet { get; }

    public RecordIntake Records { get; }

    public TestLoggerProvider Logs { get; }

    public IDroneLink Drone(int index = 0) => Fleet.Drones[index];

    /// <summary>Reply timeout in tests: short, yet far above loopback latency on a loaded shared machine.</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(2);

    public static DroneOptions Options(params string[] addresses)
    {
        var options = new DroneOptions
        {
            LocalAddress = "127.0.0.1",
            CommandPort = 0,
            StatePort = 0,
            CommandTimeout = CommandTimeout,
            TakeoffTimeout = TimeSpan.FromSeconds(10),
            LandTimeout = TimeSpan.FromSeconds(5),
            MoveTimeoutMargin = TimeSpan.FromSeconds(1),
            GoCurveTimeout = TimeSpan.FromSeconds(10),
            DegradedAfter = TimeSpan.FromSeconds(1),
            LostAfter = TimeSpan.FromSeconds(2.5),
            ReconnectInterval = TimeSpan.FromMilliseconds(300),
            KeepaliveInterval = TimeSpan.Zero,
            MinCommandGap = TimeSpan.FromMilliseconds(50),
        };
        options.Items.AddRange(DroneOptions.FromCommandLine(addresses));
        return options;
    }

    /// <summary>Starts a fleet for the fakes, points their state at it and waits until every drone is fresh.</summary>
    public static Task<FleetHarness> StartAsync(ITestOutputHelper output, DroneOptions options, params FakeTello[] fakes)
        => StartAsync(output, options, writer: null, heartbeats: null, fakes);

    /// <summary>As above, with another record writer (then <see cref="Records"/> stays empty) and/or a heartbeat registry.</summary>
    public static async Task<FleetHarness> StartAsync(ITestOutputHelper output, DroneOptions options, IRecordWriter? writer,
        LoopHeartbeatRegistry? heartbeats, params FakeTello[] fakes)
    {
        var logs = new TestLoggerProvider(output);
        var records = new RecordIntake(10_000);
        var fleet = new TelloFleet(options, writer ?? records, new SystemWallClock(TimeProvider.System), TimeProvider.System,
            logs.CreateFactory(), heartbeats: heartbeats);
        await fleet.StartAsync().WithTimeout();
        var harness = new FleetHarness(fleet, records, logs);
        foreach (var fake in fakes)
        {
            fake.StateTarget = new IPEndPoint(IPAddress.Loopback, fleet.StateEndPoint!.Port);
        }

        if (fakes.Length > 0)
        {
            await harness.WaitFreshAsync();
        }

        return harness;
    }

    public async Task WaitFreshAsync()
    {
        foreach (var drone in Fleet.Drones)
        {
            await TaskTimeouts.Eventually(() => drone.Status.Health == DroneLinkHealth.Fresh, $"{drone.Id} becomes fresh");
        }
    }

    public List<TelemetryRecord> DrainRecords()
    {
        var list = new List<TelemetryRecord>();
        while (Records.Reader.TryRead(out var r))
        {
            list.Add(r);
        }

        return list;
    }

    public async ValueTask DisposeAsync() => await Fleet.DisposeAsync();
}
