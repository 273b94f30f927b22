using System.Collections.Concurrent;
using EdgeGateway.Drones;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// An in-memory drone for the pure API logic (routing, roles, control, limits). End-to-end flight
/// behaviour is tested against the simulator over real UDP in <c>SimulatorEndToEndTests</c>.
/// </summary>
internal sealed class FakeDroneLink : IDroneLink
{
    private readonly object _gate = new();
    private DroneStatus _status;

    public FakeDroneLink(string id, int battery = 87)
    {
        Id = id;
        _status = new DroneStatus(id, "127.0.0.2:8889", DroneLinkHealth.Fresh, State(battery, 0), DateTimeOffset.UtcNow, false);
    }

    public string Id { get; }

    public DroneStatus Status
    {
        get { lock (_gate) { return _status; } }
        set { lock (_gate) { _status = value; } }
    }

    public ConcurrentQueue<string> Sent { get; } = new();

    /// <summary>(command text, origin) for every command that arrived through the origin-naming overload.</summary>
    public ConcurrentQueue<(string Command, string? Origin)> Origins { get; } = new();

    public Task<DroneCommandResult> ExecuteAsync(TelloCommand command, string? origin, CancellationToken cancellationToken = default)
    {
        Origins.Enqueue((command.Text, origin));
        return ExecuteAsync(command, cancellationToken);
    }

    /// <summary>Overrides the reply; may throw to test the exception path.</summary>
    public Func<TelloCommand, DroneCommandResult?>? Respond { get; set; }

    /// <summary>When set, queued (non-bypass) commands wait for it, like a drone busy with a move.</summary>
    public TaskCompletionSource? Hold { get; set; }

    public event Action<IDroneLink, TelloState>? StateReceived;

    public event Action<IDroneLink, DroneLinkHealth, DroneLinkHealth>? HealthChanged;

    public static TelloState State(int battery, int height) => new()
    {
        BatteryPercent = battery, HeightCm = height, PitchDeg = 1, RollDeg = -2, YawDeg = 45, SpeedX = 1, SpeedY = 2, SpeedZ = 3,
        TemperatureLowC = 44, TemperatureHighC = 47, TofCm = 10, Barometer = 17.84, FlightTimeS = 3, AccelX = 10, AccelY = -98, AccelZ = -988,
        Raw = "fake",
    };

    public async Task<DroneCommandResult> ExecuteAsync(TelloCommand command, CancellationToken cancellationToken = default)
    {
        Sent.Enqueue(command.Text);
        if (Hold is { } hold && !command.BypassesQueue)
        {
            await hold.Task.WaitAsync(cancellationToken);
        }

        if (Respond?.Invoke(command) is { } custom)
        {
            return custom;
        }

        switch (command.Kind)
        {
            case TelloCommandKind.Takeoff:
                Status = Status with { IsFlying = true };
                break;
            case TelloCommandKind.Land:
            case TelloCommandKind.Emergency:
                Status = Status with { IsFlying = false };
                break;
        }

        if (command.Kind == TelloCommandKind.Read)
        {
            var values = command.Read switch
            {
                TelloRead.Battery => new Dictionary<string, double> { ["battery"] = Status.Battery ?? 0 },
                TelloRead.Height => new Dictionary<string, double> { ["height_cm"] = Status.State?.HeightCm ?? 0 },
                TelloRead.Temperature => new Dictionary<string, double> { ["temperature_low_c"] = 44, ["temperature_high_c"] = 47 },
                _ => new Dictionary<string, double>(),
            };
            return new DroneCommandResult(DroneCommandOutcome.Ok, "87", values, TimeSpan.FromMilliseconds(3));
        }

        return new DroneCommandResult(command.ExpectsReply ? DroneCommandOutcome.Ok : DroneCommandOutcome.SentNoReply,
            command.ExpectsReply ? "ok" : null, null, TimeSpan.FromMilliseconds(3));
    }

    public void RaiseState(TelloState state)
    {
        Status = Status with { State = state, LastStateAt = DateTimeOffset.UtcNow, Health = DroneLinkHealth.Fresh };
        StateReceived?.Invoke(this, state);
    }

    public void RaiseHealth(DroneLinkHealth health)
    {
        var previous = Status.Health;
        Status = Status with { Health = health };
        HealthChanged?.Invoke(this, previous, health);
    }
}

internal sealed class FakeDroneFleet(params FakeDroneLink[] drones) : IDroneFleet
{
    public IReadOnlyList<IDroneLink> Drones { get; } = drones;

    public FakeDroneLink this[int index] => (FakeDroneLink)Drones[index];

    public IDroneLink? Find(string droneId) => Drones.FirstOrDefault(d => d.Id == droneId);
}
