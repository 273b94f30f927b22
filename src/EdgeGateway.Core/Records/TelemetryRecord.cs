namespace EdgeGateway.Records;

/// <summary>What kind of thing a record describes. Eviction and durability policies key on it.</summary>
public enum RecordKind
{
    /// <summary>A drone state datagram (about 10 Hz per drone).</summary>
    DroneState = 0,
    /// <summary>A reading from a serial or network sensor.</summary>
    SensorReading = 1,
    /// <summary>Something that happened: link up/down, failsafe, warning, store quarantined.</summary>
    Event = 2,
    /// <summary>A command a client sent and what came of it.</summary>
    CommandAudit = 3,
    /// <summary>Records were dropped (evicted, intake overflow); says which range and why.</summary>
    Gap = 4,
}

/// <summary>Where a record's wall-clock time came from, so consumers can judge it.</summary>
public enum TimeSource
{
    /// <summary>The system clock, with no evidence that it is synchronised.</summary>
    Unsynced = 0,
    /// <summary>The system clock, which the kernel reports as synchronised (NTP or similar).</summary>
    Ntp = 1,
    /// <summary>Time derived from a valid GPS fix.</summary>
    Gps = 2,
}

/// <summary>
/// One record as a device link or the gateway produces it, before the buffer gives it a
/// sequence number. Immutable; safe to hand to several consumers at once.
/// </summary>
/// <param name="Stream">Stream name, slash-separated, e.g. <c>drone/tello-1/state</c> or <c>sensor/gps0</c>.</param>
/// <param name="Kind">What the record describes.</param>
/// <param name="WallClock">Wall-clock time of capture (UTC).</param>
/// <param name="TimeSource">Where <paramref name="WallClock"/> came from.</param>
/// <param name="MonotonicTimestamp">Capture time from <see cref="System.TimeProvider.GetTimestamp"/>; immune to clock jumps.</param>
/// <param name="Payload">The record body as UTF-8 JSON (an object).</param>
public sealed record TelemetryRecord(
    string Stream,
    RecordKind Kind,
    DateTimeOffset WallClock,
    TimeSource TimeSource,
    long MonotonicTimestamp,
    ReadOnlyMemory<byte> Payload);
