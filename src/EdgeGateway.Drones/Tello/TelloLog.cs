using Microsoft.Extensions.Logging;

namespace EdgeGateway.Drones.Tello;

/// <summary>Drone link log messages. Event ids 1000-1999.</summary>
internal static partial class TelloLog
{
    [LoggerMessage(1000, LogLevel.Information, "Drone link listening: commands on {CommandEndPoint}, state on {StateEndPoint}, {DroneCount} drone(s)")]
    public static partial void Listening(ILogger logger, string commandEndPoint, string stateEndPoint, int droneCount);

    [LoggerMessage(1001, LogLevel.Information, "Drone {DroneId} link health {Old} -> {New}")]
    public static partial void HealthChanged(ILogger logger, string droneId, DroneLinkHealth old, DroneLinkHealth @new);

    [LoggerMessage(1002, LogLevel.Warning, "Drone {DroneId} link lost: no state for {Seconds:0.0} s; re-sending 'command' until it returns")]
    public static partial void LinkLost(ILogger logger, string droneId, double seconds);

    [LoggerMessage(1003, LogLevel.Debug, "Drone {DroneId} did not answer 'command' (not reachable yet); will re-send")]
    public static partial void NoAnswerWhileConnecting(ILogger logger, string droneId);

    [LoggerMessage(1004, LogLevel.Warning, "Drone {DroneId} lost while airborne: sent 'land' (best effort; it may not hear it)")]
    public static partial void LandOnLinkLoss(ILogger logger, string droneId);

    [LoggerMessage(1005, LogLevel.Warning, "Drone {DroneId} is back and still airborne (h {HeightCm} cm) with no pilot command since the loss: sending 'land' again")]
    public static partial void LandOnLinkBack(ILogger logger, string droneId, int heightCm);

    [LoggerMessage(1006, LogLevel.Warning, "Drone {DroneId} link lost while '{Command}' was pending: it is aborted (it may still have run)")]
    public static partial void PendingAbortedOnLoss(ILogger logger, string droneId, string command);

    [LoggerMessage(1010, LogLevel.Debug, "Drone {DroneId} -> '{Command}'")]
    public static partial void Sent(ILogger logger, string droneId, string command);

    [LoggerMessage(1011, LogLevel.Debug, "Drone {DroneId} '{Command}' -> {Outcome} '{Reply}' in {Ms:0} ms")]
    public static partial void Completed(ILogger logger, string droneId, string command, DroneCommandOutcome outcome, string? reply, double ms);

    [LoggerMessage(1012, LogLevel.Warning, "Drone {DroneId} '{Command}' timed out after {Ms:0} ms; link desynced{Retry}")]
    public static partial void TimedOut(ILogger logger, string droneId, string command, double ms, string retry);

    [LoggerMessage(1013, LogLevel.Warning, "Drone {DroneId} reply '{Reply}' does not fit '{Command}'; treating it as stale and resynchronising")]
    public static partial void Mismatch(ILogger logger, string droneId, string command, string reply);

    [LoggerMessage(1014, LogLevel.Debug, "Drone {DroneId} dropped unsolicited or stale reply '{Reply}'")]
    public static partial void StaleReply(ILogger logger, string droneId, string reply);

    [LoggerMessage(1015, LogLevel.Information, "Drone {DroneId} resynchronised (serial {Serial})")]
    public static partial void Resynced(ILogger logger, string droneId, string serial);

    [LoggerMessage(1016, LogLevel.Warning, "Drone {DroneId} could not resynchronise after {Attempts} 'sn?' attempt(s)")]
    public static partial void ResyncFailed(ILogger logger, string droneId, int attempts);

    [LoggerMessage(1017, LogLevel.Warning, "Drone {DroneId} emergency sent; pending command aborted, drone marked landed")]
    public static partial void EmergencySent(ILogger logger, string droneId);

    [LoggerMessage(1018, LogLevel.Information, "Drone {DroneId} does not know 'keepalive' ('{Reply}'); using 'battery?' as keepalive")]
    public static partial void KeepaliveFallback(ILogger logger, string droneId, string reply);

    [LoggerMessage(1019, LogLevel.Warning, "Drone {DroneId} airborne at shutdown: sent 'land'")]
    public static partial void LandOnShutdown(ILogger logger, string droneId);

    [LoggerMessage(1020, LogLevel.Warning, "Drone {DroneId} send of '{Command}' failed")]
    public static partial void SendFailed(ILogger logger, string droneId, string command, Exception error);

    [LoggerMessage(1021, LogLevel.Information, "Drone {DroneId} refused '{Command}' with '{Reply}' (not executed); waiting for a hover to retry it once")]
    public static partial void NotJoystickRetry(ILogger logger, string droneId, string command, string reply);

    [LoggerMessage(1022, LogLevel.Warning, "Drone {DroneId} refused '{Command}' with '{Reply}' and {Why}; not retried")]
    public static partial void NotJoystickNoRetry(ILogger logger, string droneId, string command, string reply, string why);

    [LoggerMessage(1030, LogLevel.Warning, "Ignored {Count} datagram(s) on the {Channel} channel from unknown source {Source} (not a configured drone)")]
    public static partial void UnknownSource(ILogger logger, long count, string channel, string source);

    [LoggerMessage(1032, LogLevel.Warning, "Ignored {Count} datagram(s) on the command channel from {Source}: drone {DroneId}'s IP but not its command port {Port} (spoofed, or another program on that host)")]
    public static partial void WrongSourcePort(ILogger logger, long count, string droneId, string source, int port);

    [LoggerMessage(1031, LogLevel.Warning, "Ignored bad {Channel} datagram from drone {DroneId}: {Reason} ({Bytes} bytes; {Count} so far)")]
    public static partial void BadDatagram(ILogger logger, string channel, string droneId, string reason, int bytes, long count);

    [LoggerMessage(1040, LogLevel.Error, "Drone {Loop} loop failed; continuing")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception error);

    [LoggerMessage(1041, LogLevel.Warning, "A StateReceived/HealthChanged handler threw for drone {DroneId}")]
    public static partial void HandlerFailed(ILogger logger, string droneId, Exception error);

    [LoggerMessage(1042, LogLevel.Debug, "Record for drone {DroneId} dropped by the record writer")]
    public static partial void RecordDropped(ILogger logger, string droneId);
}
