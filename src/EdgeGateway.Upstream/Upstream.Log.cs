using Microsoft.Extensions.Logging;

namespace EdgeGateway.Upstream;

/// <summary>Event ids 6500-6999. URLs are logged redacted; tokens and passwords never.</summary>
internal static partial class UpstreamLog
{
    [LoggerMessage(6500, LogLevel.Information, "Relay {Sink} connected to {Url}")]
    public static partial void RelayConnected(ILogger logger, string sink, string url);

    [LoggerMessage(6501, LogLevel.Warning, "Relay {Sink}: connection to {Url} failed: {Reason}; next attempt in {DelayMs} ms")]
    public static partial void RelayConnectFailed(ILogger logger, string sink, string url, string reason, long delayMs);

    [LoggerMessage(6502, LogLevel.Error, "Relay {Sink}: the receiver at {Url} refused us: {Reason}; next attempt in {DelayMs} ms (fix the token, the URL or the CA)")]
    public static partial void RelayRefused(ILogger logger, string sink, string url, string reason, long delayMs);

    [LoggerMessage(6503, LogLevel.Warning, "Relay {Sink} disconnected after {Seconds:0.0} s: {Reason}; {Unacked} records unacknowledged will be resent")]
    public static partial void RelayDisconnected(ILogger logger, string sink, double seconds, string reason, int unacked);

    [LoggerMessage(6504, LogLevel.Warning, "Relay {Sink}: ignored a frame from the receiver: {Reason}")]
    public static partial void RelayBadFrame(ILogger logger, string sink, string reason);

    [LoggerMessage(6505, LogLevel.Error, "Relay {Sink} loop error; continuing")]
    public static partial void RelayLoopError(ILogger logger, string sink, Exception error);

    [LoggerMessage(6510, LogLevel.Information, "Relay receiver: gateway connection {Connection} accepted from {Remote}")]
    public static partial void ReceiverAccepted(ILogger logger, int connection, string? remote);

    [LoggerMessage(6511, LogLevel.Warning, "Relay receiver: refused a connection from {Remote}: {Reason}")]
    public static partial void ReceiverRefused(ILogger logger, string? remote, string reason);

    [LoggerMessage(6512, LogLevel.Information, "Relay receiver: connection {Connection} ended: {Reason}")]
    public static partial void ReceiverClosed(ILogger logger, int connection, string reason);

    [LoggerMessage(6600, LogLevel.Information, "MQTT sink {Sink} connected (session present {SessionPresent})")]
    public static partial void MqttConnected(ILogger logger, string sink, bool sessionPresent);

    [LoggerMessage(6601, LogLevel.Warning, "MQTT sink {Sink} disconnected: {Reason}; unacknowledged records will be resent")]
    public static partial void MqttDisconnected(ILogger logger, string sink, string reason);

    [LoggerMessage(6602, LogLevel.Error, "MQTT sink {Sink}: records {First}..{Last} of stream {Stream} were dead-lettered ({Reason}); kept in the dead-letter table and skipped so the stream goes on")]
    public static partial void MqttDeadLettered(ILogger logger, string sink, long first, long last, string stream, string reason);

    [LoggerMessage(6603, LogLevel.Warning, "MQTT sink {Sink}: status '{Status}' publish failed: {Reason}")]
    public static partial void MqttStatusFailed(ILogger logger, string sink, string status, string reason);

    [LoggerMessage(6604, LogLevel.Error, "MQTT sink {Sink} loop error; continuing")]
    public static partial void MqttLoopError(ILogger logger, string sink, Exception error);

    [LoggerMessage(6605, LogLevel.Error, "MQTT sink {Sink}: could not store records {First}..{Last} in the dead-letter table; not acknowledged, the forwarder resends them after its ack timeout")]
    public static partial void DeadLetterStoreFailed(ILogger logger, string sink, long first, long last, Exception error);

    [LoggerMessage(6606, LogLevel.Error, "MQTT sink {Sink}: the broker allows only QoS 0 (CONNACK Maximum QoS 0); records are kept in the buffer, not dead-lettered, until it allows QoS 1")]
    public static partial void MqttQosRefused(ILogger logger, string sink);

    [LoggerMessage(6607, LogLevel.Error, "Dead-letter table {Path} could not be opened ({Reason}); moved aside to {MovedTo} and recreated empty")]
    public static partial void LogDeadLetterStoreRecreated(this ILogger logger, string path, string reason, string movedTo);
}
