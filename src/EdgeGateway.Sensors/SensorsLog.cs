using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors;

/// <summary>Sensor log events, ids 7000-7999.</summary>
internal static partial class SensorsLog
{
    [LoggerMessage(7000, LogLevel.Information, "Sensor {Id}: opened {Endpoint} ({Settings})")]
    public static partial void Opened(ILogger logger, string id, string endpoint, string settings);

    [LoggerMessage(7001, LogLevel.Information, "Sensor {Id}: {Endpoint} is back after {Reconnects} reconnect(s)")]
    public static partial void Reopened(ILogger logger, string id, string endpoint, long reconnects);

    [LoggerMessage(7002, LogLevel.Warning, "Sensor {Id}: {Message} Retrying every {RetrySeconds} s at most.")]
    public static partial void OpenFailed(ILogger logger, string id, string message, double retrySeconds);

    [LoggerMessage(7003, LogLevel.Warning, "Sensor {Id}: {Endpoint} disconnected ({Reason}); reopening with backoff")]
    public static partial void Disconnected(ILogger logger, string id, string endpoint, string reason);

    [LoggerMessage(7004, LogLevel.Error, "Sensor {Id}: the read loop failed; restarting it")]
    public static partial void LoopFailed(ILogger logger, string id, Exception exception);

    [LoggerMessage(7005, LogLevel.Warning, "Sensor {Id}: rejected {Count} input(s) since the last report ({Reasons})")]
    public static partial void Rejected(ILogger logger, string id, long count, string reasons);

    [LoggerMessage(7006, LogLevel.Warning, "Sensor {Id}: the record intake is full; readings are being dropped ({Dropped} so far)")]
    public static partial void RecordsDropped(ILogger logger, string id, long dropped);

    [LoggerMessage(7007, LogLevel.Information, "GPS time agrees with the system clock (offset {OffsetMs:0} ms): records are now stamped with time source 'gps'")]
    public static partial void GpsTimeAdopted(ILogger logger, double offsetMs);

    [LoggerMessage(7008, LogLevel.Warning, "The system clock differs from GPS time by {OffsetSeconds:0.0} s (allowed {MaxSeconds:0.0} s): record times stay marked as system time. Let gpsd + chrony set the clock.")]
    public static partial void GpsTimeDisagrees(ILogger logger, double offsetSeconds, double maxSeconds);

    [LoggerMessage(7009, LogLevel.Information, "Sensor {Id}: connected to gpsd at {Endpoint}")]
    public static partial void GpsdConnected(ILogger logger, string id, string endpoint);

    [LoggerMessage(7010, LogLevel.Debug, "Sensor {Id}: still failing: {Message}")]
    public static partial void StillFailing(ILogger logger, string id, string message);

    [LoggerMessage(7011, LogLevel.Information, "Sensors: starting {Count} sensor(s)")]
    public static partial void Starting(ILogger logger, int count);

    [LoggerMessage(7012, LogLevel.Warning, "No valid GPS time agreeing with the system clock for {SilentSeconds:0.0} s (GPS unplugged, fix lost or gpsd stopped): records are stamped with time source '{Source}' again")]
    public static partial void GpsTimeExpired(ILogger logger, double silentSeconds, string source);

    [LoggerMessage(7013, LogLevel.Warning, "Sensor {Id}: reading {Endpoint} failed ({Reason}); reopening in {RetrySeconds} s")]
    public static partial void I2cReadFailed(ILogger logger, string id, string endpoint, string reason, double retrySeconds);
}
