using Microsoft.Extensions.Logging;

namespace EdgeGateway.Mqtt;

/// <summary>MQTT client log events, ids 6000-6099 (client) and 6100-6199 (supervisor).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 6000, Level = LogLevel.Information,
        Message = "MQTT connected to {Host}:{Port} ({Version}), session present {SessionPresent}, inflight window {Window}")]
    public static partial void Connected(ILogger logger, string host, int port, MqttProtocolVersion version, bool sessionPresent, int window);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "MQTT connect to {Host}:{Port} failed: {Reason}")]
    public static partial void ConnectFailed(ILogger logger, string host, int port, string reason);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "MQTT connection lost: {Reason} (was up {Seconds:0.0} s)")]
    public static partial void ConnectionLost(ILogger logger, string reason, double seconds);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "MQTT disconnected: {Detail}")]
    public static partial void DisconnectedLocally(ILogger logger, string detail);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning,
        Message = "MQTT message to '{Topic}' dead-lettered: {Reason} (0x{Code:X2}) {Detail}")]
    public static partial void DeadLettered(ILogger logger, string topic, DeadLetterReason reason, byte code, string detail);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Debug, Message = "PUBACK for unknown packet id {PacketId} ignored")]
    public static partial void UnknownPubAck(ILogger logger, ushort packetId);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Debug, Message = "Unexpected {Type} (packet id {PacketId}) ignored")]
    public static partial void UnexpectedPacket(ILogger logger, MqttPacketType type, ushort packetId);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Error, Message = "MQTT {Handler} handler failed")]
    public static partial void HandlerFailed(ILogger logger, string handler, Exception error);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Error, Message = "MQTT {Loop} loop failed")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception error);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Warning,
        Message = "Server reported a session this process has no state for; closing and reconnecting with Clean Start ([MQTT-3.2.2-4])")]
    public static partial void SessionPresentWithoutState(ILogger logger);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Information, Message = "Re-subscribed {Count} filter(s) on a new session: {Status}")]
    public static partial void Resubscribed(ILogger logger, int count, SubscribeStatus status);

    [LoggerMessage(EventId = 6100, Level = LogLevel.Information, Message = "MQTT reconnect in {DelayMs} ms (attempt {Attempt}, {RetryClass}): {Why}")]
    public static partial void RetryScheduled(ILogger logger, long delayMs, int attempt, RetryClass retryClass, string why);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Error,
        Message = "MQTT login refused: {Why}. Check credentials/certificates; next attempt in {DelayMs} ms")]
    public static partial void Refused(ILogger logger, string why, long delayMs);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning,
        Message = "MQTT session taken over by another client with the same client id; not fighting it, next attempt in {DelayMs} ms")]
    public static partial void TakenOver(ILogger logger, long delayMs);

    [LoggerMessage(EventId = 6104, Level = LogLevel.Warning,
        Message = "MQTT client id in use: the server closed our connection cleanly (end of stream, no DISCONNECT, no reset, no timeout) {Closes} times within {WindowSeconds:0} s; another client with the same client id '{ClientId}' is probably connected (mosquitto closes the older one silently). Not fighting it: reconnects wait at least {DelayMs} ms. Give every gateway a unique client id")]
    public static partial void SuspectedTakeover(ILogger logger, string clientId, int closes, double windowSeconds, long delayMs);

    [LoggerMessage(EventId = 6105, Level = LogLevel.Information,
        Message = "MQTT no longer suspecting another client with our client id: {Why}")]
    public static partial void TakeoverSuspicionCleared(ILogger logger, string why);

    [LoggerMessage(EventId = 6103, Level = LogLevel.Error, Message = "MQTT supervisor loop failed; continuing")]
    public static partial void SupervisorFailed(ILogger logger, Exception error);
}
