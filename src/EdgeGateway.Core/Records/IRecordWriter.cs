namespace EdgeGateway.Records;

/// <summary>
/// The one way producers (drone links, sensors, the command service) hand records to the rest
/// of the gateway. Implementations never block and never throw for a full queue: they apply
/// their stated overflow policy and count it.
/// </summary>
public interface IRecordWriter
{
    /// <summary>Offers a record. Returns false when it was dropped by the overflow policy.</summary>
    bool TryWrite(TelemetryRecord record);
}
