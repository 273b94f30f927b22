using Microsoft.Extensions.Logging;

namespace EdgeGateway.Buffer;

internal static partial class BufferLog
{
    [LoggerMessage(5000, LogLevel.Information, "Record buffer ready at {Path}: last sequence {LastSequence}, {FileBytes} bytes, opened in {Milliseconds} ms (integrity check {Check})")]
    public static partial void Ready(ILogger logger, string path, long lastSequence, long fileBytes, long milliseconds, string check);

    [LoggerMessage(5001, LogLevel.Error, "Record store was unreadable ({Reason}); moved aside to {MovedTo} and started a fresh store")]
    public static partial void Quarantined(ILogger logger, string reason, string movedTo);

    [LoggerMessage(5002, LogLevel.Warning, "Intake full: {Dropped} records dropped so far by policy {Policy}")]
    public static partial void IntakeFull(ILogger logger, long dropped, IntakeFullPolicy policy);

    [LoggerMessage(5003, LogLevel.Warning, "Evicted {Count} records ({Reason}); store {UsedBytes} bytes used of {LimitBytes}")]
    public static partial void Evicted(ILogger logger, long count, EvictionReason reason, long usedBytes, long limitBytes);

    [LoggerMessage(5004, LogLevel.Error, "Disk full while committing {Count} records; evicting and retrying (occurrences {Occurrences})")]
    public static partial void DiskFull(ILogger logger, int count, long occurrences, Exception error);

    [LoggerMessage(5005, LogLevel.Error, "Commit of {Count} records failed and they were dropped (occurrences {Occurrences})")]
    public static partial void CommitFailed(ILogger logger, int count, long occurrences, Exception error);

    [LoggerMessage(5006, LogLevel.Error, "Buffer writer loop error; continuing")]
    public static partial void WriterLoopError(ILogger logger, Exception error);

    [LoggerMessage(5007, LogLevel.Warning, "Free disk space {FreeBytes} bytes is below the minimum {MinFreeBytes}; shrinking the store")]
    public static partial void LowDisk(ILogger logger, long freeBytes, long minFreeBytes);

    [LoggerMessage(5008, LogLevel.Information, "Record buffer stopped at sequence {LastSequence}")]
    public static partial void Stopped(ILogger logger, long lastSequence);

    [LoggerMessage(5009, LogLevel.Warning, "Integrity check did not finish within {Milliseconds} ms; continuing (SQLite reports corruption on access)")]
    public static partial void IntegrityCheckIncomplete(ILogger logger, long milliseconds);

    [LoggerMessage(5010, LogLevel.Critical, "Cannot open the record store {Path}; the gateway cannot start without it")]
    public static partial void OpenFailed(ILogger logger, string path, Exception error);

    [LoggerMessage(5011, LogLevel.Error, "Record store became unreadable while running ({Reason}); moved aside to {MovedTo}, continuing on a fresh store above sequence {LastSequence}")]
    public static partial void QuarantinedWhileRunning(ILogger logger, string reason, string movedTo, long lastSequence);

    [LoggerMessage(5012, LogLevel.Critical, "Record store {Path} is corrupt and could not be replaced; commits keep failing")]
    public static partial void QuarantineFailed(ILogger logger, string path, Exception error);

    [LoggerMessage(5013, LogLevel.Error, "Background integrity check found the record store damaged ({Reason}); moving it aside")]
    public static partial void BackgroundCheckFailed(ILogger logger, string reason);

    [LoggerMessage(5014, LogLevel.Information, "Background integrity check of the record store passed")]
    public static partial void BackgroundCheckPassed(ILogger logger);

    [LoggerMessage(5015, LogLevel.Information, "Background integrity check paused: its snapshot held the WAL past its share of the budget; starting it again in {Seconds} s")]
    public static partial void BackgroundCheckYielded(ILogger logger, long seconds);

    [LoggerMessage(5100, LogLevel.Information, "Forwarder {Sink} started at cursor {Cursor} (committed {Committed}, catch-up {CatchUp})")]
    public static partial void ForwarderStarted(ILogger logger, string sink, long cursor, long committed, bool catchUp);

    [LoggerMessage(5101, LogLevel.Warning, "Forwarder {Sink}: {Reason}; resending from cursor {Cursor} after {DelayMs} ms")]
    public static partial void ForwarderRewind(ILogger logger, string sink, string reason, long cursor, long delayMs);

    [LoggerMessage(5102, LogLevel.Error, "Forwarder {Sink} loop error; continuing")]
    public static partial void ForwarderLoopError(ILogger logger, string sink, Exception error);

    [LoggerMessage(5103, LogLevel.Information, "Forwarder {Sink} caught up at sequence {Cursor}")]
    public static partial void ForwarderCaughtUp(ILogger logger, string sink, long cursor);
}
