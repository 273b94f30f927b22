namespace EdgeGateway.Drones;

public enum DroneCommandOutcome
{
    /// <summary>The drone replied <c>ok</c> (or a value, for a read).</summary>
    Ok,
    /// <summary>The drone replied with an error (<c>error</c>, <c>out of range</c>, <c>forced stop</c> …). See <see cref="DroneCommandResult.Reply"/>.</summary>
    DroneError,
    /// <summary>No reply within the command's timeout. A move may or may not have happened.</summary>
    Timeout,
    /// <summary>The command was sent and needs no reply (rc, emergency).</summary>
    SentNoReply,
    /// <summary>The link is lost or not in SDK mode; the command was not sent.</summary>
    LinkDown,
    /// <summary>The queue for this drone is full; not sent.</summary>
    Busy,
    /// <summary>Aborted before a reply (emergency, shutdown, cancellation, or the link going lost). A command that was sent may have run.</summary>
    Aborted,
}

/// <summary>What came of one command. Expected failures are outcomes, not exceptions.</summary>
/// <param name="Outcome">The outcome.</param>
/// <param name="Reply">The drone's raw reply, trimmed, if any.</param>
/// <param name="Values">Parsed values of a read, in named units (e.g. <c>height_cm</c>, <c>battery</c>).</param>
/// <param name="Latency">From send to reply (or to giving up).</param>
public sealed record DroneCommandResult(
    DroneCommandOutcome Outcome,
    string? Reply,
    IReadOnlyDictionary<string, double>? Values,
    TimeSpan Latency)
{
    public bool Success => Outcome is DroneCommandOutcome.Ok or DroneCommandOutcome.SentNoReply;
}
