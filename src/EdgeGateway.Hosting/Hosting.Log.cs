using Microsoft.Extensions.Logging;

namespace EdgeGateway.Hosting;

/// <summary>Hosting log events, ids 3000-3999.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information,
        Message = "Sent READY=1 to systemd {ElapsedMs:0.0} ms after process start")]
    public static partial void ReadySent(ILogger logger, double elapsedMs);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information,
        Message = "Gateway ready {ElapsedMs:0.0} ms after process start (no systemd notify socket)")]
    public static partial void ReadyWithoutSystemd(ILogger logger, double elapsedMs);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug,
        Message = "NOTIFY_SOCKET is not set: not running under systemd Type=notify, notifications are skipped")]
    public static partial void NotifySocketUnset(ILogger logger);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning,
        Message = "Could not send {State} to the systemd notify socket {Socket}")]
    public static partial void NotifyFailed(ILogger logger, string state, string socket, Exception error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Error,
        Message = "Watchdog pings withheld: loops overdue: {Loops}. systemd will restart the service if this persists")]
    public static partial void WatchdogWithheld(ILogger logger, string loops);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information,
        Message = "Watchdog pings resumed: every loop is alive again")]
    public static partial void WatchdogResumed(ILogger logger);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information,
        Message = "systemd watchdog enabled: WATCHDOG_USEC={WatchdogUsec}, pinging every {IntervalMs} ms while all loops are alive")]
    public static partial void WatchdogEnabled(ILogger logger, long watchdogUsec, long intervalMs);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "Sent STOPPING=1 to systemd")]
    public static partial void StoppingSent(ILogger logger);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Warning,
        Message = "Ignoring WATCHDOG_USEC={Value}: not a positive integer, or WATCHDOG_PID names another process")]
    public static partial void WatchdogIgnored(ILogger logger, string value);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Warning, Message = "The status line provider failed")]
    public static partial void StatusLineFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Debug, Message = "Readiness gate opened ({Reason})")]
    public static partial void GateOpened(ILogger logger, string reason);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning,
        Message = "Metric {Instrument} reached {Limit} label sets; new label sets are dropped")]
    public static partial void SeriesLimitReached(ILogger logger, string instrument, int limit);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning,
        Message = "Metric {Instrument} from meter {Meter} maps to Prometheus name {Name}, already used by another instrument; it is not exported")]
    public static partial void MetricNameConflict(ILogger logger, string instrument, string meter, string name);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Warning, Message = "An observable instrument callback failed during a scrape")]
    public static partial void ObservableCallbackFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Health reporter {Reporter} failed")]
    public static partial void HealthReporterFailed(ILogger logger, string reporter, Exception error);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "The systemd notify loop failed; it continues")]
    public static partial void NotifyLoopFailed(ILogger logger, Exception error);
}
