using Microsoft.Extensions.Logging;

namespace EdgeGateway.LocalApi;

/// <summary>Log events of the local API: ids 4000-4999. Tokens are never logged, only their configured names.</summary>
internal static partial class LocalApiLog
{
    [LoggerMessage(4000, LogLevel.Information, "Local API auth: {TokenCount} token(s), trusted networks [{TrustedNetworks}] as {TrustedRole}, anonymous clients: {AnonymousRole}")]
    public static partial void AuthConfigured(this ILogger logger, int tokenCount, string trustedNetworks, string trustedRole, string anonymousRole);

    [LoggerMessage(4001, LogLevel.Debug, "WebSocket {ConnectionId} connected from {Remote} as {Identity} ({Role} via {Via})")]
    public static partial void ClientConnected(this ILogger logger, long connectionId, string? remote, string identity, string role, string via);

    [LoggerMessage(4002, LogLevel.Debug, "WebSocket {ConnectionId} closed: {Reason}")]
    public static partial void ClientDisconnected(this ILogger logger, long connectionId, string reason);

    [LoggerMessage(4003, LogLevel.Warning, "WebSocket {ConnectionId} ({Identity}) fell behind and was disconnected: {Detail}")]
    public static partial void SlowClientDisconnected(this ILogger logger, long connectionId, string identity, string detail);

    [LoggerMessage(4004, LogLevel.Warning, "WebSocket from {Remote} refused: {MaxConnections} connections already open")]
    public static partial void TooManyConnections(this ILogger logger, string? remote, int maxConnections);

    [LoggerMessage(4005, LogLevel.Warning, "WebSocket {ConnectionId} ({Identity}) closed for flooding ({Refused} messages refused over the rate limit within {WindowSeconds} s)")]
    public static partial void ClientFlooded(this ILogger logger, long connectionId, string identity, int refused, double windowSeconds);

    [LoggerMessage(4006, LogLevel.Warning, "Authentication failed from {Remote} on {Path}: {Outcome}")]
    public static partial void AuthFailed(this ILogger logger, string? remote, string path, string outcome);

    [LoggerMessage(4007, LogLevel.Information, "Request from {Remote} refused: origin {Origin} is not allowed")]
    public static partial void OriginRefused(this ILogger logger, string? remote, string origin);

    [LoggerMessage(4009, LogLevel.Information, "Request from {Remote} refused: host {Host} is not a name of this gateway (LocalApi:AllowedHosts)")]
    public static partial void HostRefused(this ILogger logger, string? remote, string host);

    [LoggerMessage(4008, LogLevel.Debug, "WebSocket {ConnectionId} closed with {CloseCode}: {Reason}")]
    public static partial void ClosingClient(this ILogger logger, long connectionId, int closeCode, string reason);

    [LoggerMessage(4010, LogLevel.Information, "Command {Action} on {DroneId} by {Identity}: {Outcome} in {LatencyMs:0.0} ms")]
    public static partial void CommandExecuted(this ILogger logger, string action, string droneId, string identity, string outcome, double latencyMs);

    [LoggerMessage(4011, LogLevel.Information, "Command {Action} on {DroneId} by {Identity} refused: {Code}")]
    public static partial void CommandRefused(this ILogger logger, string action, string droneId, string identity, string code);

    [LoggerMessage(4020, LogLevel.Information, "Control of {DroneId}: {Previous} -> {Holder} ({Reason})")]
    public static partial void ControlChanged(this ILogger logger, string droneId, string previous, string holder, string reason);

    [LoggerMessage(4021, LogLevel.Warning, "Failsafe on {DroneId}: pilot {Identity} gone ({Reason}) while airborne; hovering, landing in {GraceSeconds} s unless a pilot takes control")]
    public static partial void FailsafeHover(this ILogger logger, string droneId, string identity, string reason, double graceSeconds);

    [LoggerMessage(4022, LogLevel.Warning, "Failsafe on {DroneId}: no pilot took control; landing")]
    public static partial void FailsafeLand(this ILogger logger, string droneId);

    [LoggerMessage(4023, LogLevel.Information, "Failsafe on {DroneId} ended: {Reason}")]
    public static partial void FailsafeEnded(this ILogger logger, string droneId, string reason);

    [LoggerMessage(4024, LogLevel.Warning, "Failsafe {Action} on {DroneId} did not succeed: {Outcome} {Reply}")]
    public static partial void FailsafeCommandFailed(this ILogger logger, string action, string droneId, string outcome, string? reply);

    [LoggerMessage(4030, LogLevel.Error, "Unexpected error handling {Method} {Path}")]
    public static partial void RequestFailed(this ILogger logger, string method, string path, Exception error);

    [LoggerMessage(4031, LogLevel.Error, "Unexpected error in WebSocket {ConnectionId} receive loop")]
    public static partial void ReceiveLoopFailed(this ILogger logger, long connectionId, Exception error);

    [LoggerMessage(4036, LogLevel.Information, "WebSocket {ConnectionId} closed by the WebSocket layer ({Reason}): a text frame with invalid UTF-8 (1007) or a framing error (1002)")]
    public static partial void ClosedByProtocol(this ILogger logger, long connectionId, string reason);

    [LoggerMessage(4037, LogLevel.Information, "WebSocket {ConnectionId} sent a message over {MaxFrameBytes} bytes: closing with 1009 after reading {Bytes} bytes of it")]
    public static partial void OversizeMessage(this ILogger logger, long connectionId, int maxFrameBytes, long bytes);

    [LoggerMessage(4038, LogLevel.Information, "WebSocket {ConnectionId} kept sending its oversize message: dropped after the 1009 close frame, {Bytes} bytes of it read in all")]
    public static partial void OversizeMessageAbandoned(this ILogger logger, long connectionId, long bytes);

    [LoggerMessage(4032, LogLevel.Debug, "WebSocket {ConnectionId} send failed: {Reason}")]
    public static partial void SendFailed(this ILogger logger, long connectionId, string reason);

    [LoggerMessage(4033, LogLevel.Error, "Unexpected error in the failsafe check")]
    public static partial void FailsafeCheckFailed(this ILogger logger, Exception error);

    [LoggerMessage(4034, LogLevel.Error, "Unexpected error publishing drone {DroneId} state")]
    public static partial void PublishFailed(this ILogger logger, string droneId, Exception error);

    [LoggerMessage(4035, LogLevel.Error, "Unexpected error in WebSocket {ConnectionId} command {Action}")]
    public static partial void CommandFailed(this ILogger logger, long connectionId, string action, Exception error);

    [LoggerMessage(4040, LogLevel.Information, "Drone {DroneId} link {Previous} -> {Current}")]
    public static partial void LinkHealthChanged(this ILogger logger, string droneId, string previous, string current);
}
