namespace EdgeGateway.Drones;

/// <summary>Link health from the age of the last state datagram.</summary>
public enum DroneLinkHealth
{
    /// <summary>No state received yet since start (or since the handshake began).</summary>
    Connecting = 0,
    /// <summary>State younger than the degraded threshold (about 1 s).</summary>
    Fresh = 1,
    /// <summary>State older than the degraded threshold but not yet lost.</summary>
    Degraded = 2,
    /// <summary>No state for the lost threshold (about 5 s); the link re-handshakes.</summary>
    Lost = 3,
}

/// <summary>A consistent snapshot of one drone for the local API and health checks.</summary>
public sealed record DroneStatus(
    string DroneId,
    string Address,
    DroneLinkHealth Health,
    TelloState? State,
    DateTimeOffset? LastStateAt,
    bool IsFlying)
{
    /// <summary>Connected means state is arriving (fresh or degraded).</summary>
    public bool Connected => Health is DroneLinkHealth.Fresh or DroneLinkHealth.Degraded;

    public int? Battery => State?.BatteryPercent;
}
