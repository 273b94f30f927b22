namespace EdgeGateway.Drones;

/// <summary>One drone: its command queue, its state and its health.</summary>
public interface IDroneLink
{
    /// <summary>Configured id (e.g. <c>tello-1</c>); used in streams, the API and metrics.</summary>
    string Id { get; }

    /// <summary>A consistent snapshot of health and the latest state.</summary>
    DroneStatus Status { get; }

    /// <summary>
    /// Sends a command. Queued commands run one at a time; <c>stop</c>, <c>emergency</c> and
    /// <c>rc</c> bypass the queue. Never throws for drone-side failures; cancellation aborts waiting.
    /// </summary>
    Task<DroneCommandResult> ExecuteAsync(TelloCommand command, CancellationToken cancellationToken = default);

    /// <summary>
    /// As <see cref="ExecuteAsync(TelloCommand, CancellationToken)"/>, naming who asked for the command
    /// (e.g. <c>local-api:ops-laptop</c>, <c>failsafe</c>) for the command audit record. Null means unknown.
    /// The default implementation ignores the origin, so existing implementations keep working.
    /// </summary>
    Task<DroneCommandResult> ExecuteAsync(TelloCommand command, string? origin, CancellationToken cancellationToken = default)
        => ExecuteAsync(command, cancellationToken);

    /// <summary>Raised on every parsed state datagram (on the receive loop: handlers must not block).</summary>
    event Action<IDroneLink, TelloState>? StateReceived;

    /// <summary>Raised when <see cref="DroneStatus.Health"/> changes.</summary>
    event Action<IDroneLink, DroneLinkHealth, DroneLinkHealth>? HealthChanged;
}

/// <summary>All configured drones.</summary>
public interface IDroneFleet
{
    /// <summary>Drones in configuration order; the first is the default.</summary>
    IReadOnlyList<IDroneLink> Drones { get; }

    /// <summary>The drone with that id, or null.</summary>
    IDroneLink? Find(string droneId);
}
