using EdgeGateway.Records;

namespace EdgeGateway.Buffer;

/// <summary>A record as the buffer stored it: the producer's record plus its gateway-unique sequence.</summary>
public sealed record BufferedRecord(
    long Sequence,
    string Stream,
    RecordKind Kind,
    DateTimeOffset WallClock,
    TimeSource TimeSource,
    long MonotonicTimestamp,
    ReadOnlyMemory<byte> Payload);

public enum CommitStatus
{
    Committed = 0,
    /// <summary>Dropped by the intake's full policy before it reached the disk.</summary>
    DroppedIntakeFull = 1,
    /// <summary>The store refused it (disk full even after eviction, I/O error); counted and logged.</summary>
    StoreFailed = 2,
    /// <summary>The buffer is stopping or stopped.</summary>
    Stopped = 3,
}

/// <summary>Outcome of <see cref="IRecordBuffer.WriteAsync"/>: the sequence is valid only when committed.</summary>
public readonly record struct CommitResult(CommitStatus Status, long Sequence);

/// <summary>One sink's position in the buffer.</summary>
public sealed record SinkStatus(string Sink, long Cursor, long LagSequences, long? BacklogRecords, DateTimeOffset? OldestUnsent, bool Connected);

/// <summary>What <c>GET /api/buffer</c> shows.</summary>
public sealed record BufferStatus(
    bool Ready,
    long CommittedSequence,
    long? OldestSequence,
    long RecordCount,
    long FileBytes,
    long MaxBytes,
    long IntakeQueued,
    long IntakeDropped,
    long EvictedRecords,
    DateTimeOffset? OldestUnsent,
    IReadOnlyList<SinkStatus> Sinks);

/// <summary>
/// The durable record buffer. Producers call <see cref="IRecordWriter.TryWrite"/>, which never blocks;
/// the sequence is assigned by the single writer and the record counts as stored only once
/// <see cref="CommittedSequence"/> has reached it.
/// </summary>
public interface IRecordBuffer : IRecordWriter
{
    /// <summary>Highest sequence whose transaction has committed.</summary>
    long CommittedSequence { get; }

    /// <summary>True once the store is open and the writer runs (never waits on the backlog).</summary>
    bool IsReady { get; }

    /// <summary>Offers a record and completes once it is committed (or dropped / refused, see the status).</summary>
    Task<CommitResult> WriteAsync(TelemetryRecord record, CancellationToken cancellationToken = default);

    /// <summary>Completes when <see cref="CommittedSequence"/> is at least <paramref name="sequence"/>.</summary>
    Task WaitForCommittedAsync(long sequence, CancellationToken cancellationToken = default);

    /// <summary>Paged history: records after <paramref name="afterSequence"/>, optionally of one stream, in sequence order.</summary>
    IReadOnlyList<BufferedRecord> ReadHistory(string? stream, long afterSequence, int limit);

    /// <summary>
    /// The sequence to read after for records stored at or after <paramref name="wallClock"/>: found by bisecting the
    /// sequence range on the stored wall clock, so it assumes the clock rose with the sequence (after a clock step the
    /// range may start a little early or late). For history views, never for delivery.
    /// </summary>
    long SequenceBefore(DateTimeOffset wallClock);

    BufferStatus GetStatus();
}
