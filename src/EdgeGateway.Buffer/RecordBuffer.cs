using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.Json;
using System.Threading.Channels;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Buffer;

/// <summary>
/// The durable buffer: a bounded intake that never blocks producers, one writer task with group
/// commit, byte/age budgets with gap records, a committed-sequence watermark, and the sinks' cursors.
/// </summary>
public sealed class RecordBuffer : IRecordBuffer, IHealthReporter, IAsyncDisposable
{
    /// <summary>Stream of the buffer's own events (store quarantined …).</summary>
    public const string EventStream = "gateway/buffer";

    /// <summary>Consecutive failed commits after which the buffer reports Unhealthy (one makes it Degraded).</summary>
    public const int FailedCommitsUnhealthy = 5;

    private readonly BufferOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LoopHeartbeatRegistry? _heartbeats;
    private readonly Channel<IntakeItem> _intake;
    private readonly ConcurrentDictionary<string, long> _intakeDropsByStream = new(StringComparer.Ordinal);
    private readonly List<GapInfo> _pendingGaps = [];
    private readonly Lock _cursorGate = new();
    private readonly Dictionary<string, long> _cursors = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, long> _dirtyCursors = new(StringComparer.OrdinalIgnoreCase);
    // Sinks configured in this run (each forwarder registers itself); only these are reported. Cursor rows
    // of sinks no longer configured stay in the store (a sink taken out and put back resumes where it was)
    // but are not listed: they hold nothing back, since records leave only by budget or age.
    private readonly SortedSet<string> _sinks = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, bool> _sinkConnected = new(StringComparer.OrdinalIgnoreCase);
    private readonly CancellationTokenSource _stopping = new();
    private readonly long _walLimit;
    private RecordStore? _store;
    private Task? _writer;
    private TaskCompletionSource _commitSignal = NewSignal();
    private long _committed;
    private long _intakeQueued;
    private long _intakeDropped;
    private long _evicted;
    private long _storeErrors;
    private long _lastDropLog;
    private long _lastFullLog;
    private long _lastLowDiskLog;
    private long _lastBatchBytes;
    private long _fileBytes;
    private long _maxFileBytes;
    private long _fullCommits;
    private long _oldest;
    private volatile bool _ready;
    private int _stopped;
    private int _disposed;
    private volatile bool _writerFaulted;
    private int _consecutiveFailures;
    private string? _lastFailure;
    private int _storeGeneration;
    private volatile bool _quarantinedAtRuntime;
    private CorruptionReport? _corruptionFound;
    private PendingReplacement? _replacement;
    private long _lastLoopErrorLog;
    private long _lastQuarantineFailLog;
    private Task? _backgroundCheck;
    private volatile bool _checkDone;
    private readonly Lock _checkGate = new();
    private Microsoft.Data.Sqlite.SqliteConnection? _checkConnection;
    private int _checkYield;
    private int _checkYields;

    public RecordBuffer(BufferOptions options, TimeProvider time, ILogger<RecordBuffer> logger,
        LoopHeartbeatRegistry? heartbeats = null, IMeterFactory? meterFactory = null)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _heartbeats = heartbeats;
        Metrics = new BufferMetrics(meterFactory);
        _walLimit = Math.Clamp(options.MaxBytes / 10, 256 * 1024, 32L * 1024 * 1024);
        var mode = options.IntakeFullPolicy == IntakeFullPolicy.DropNewest ? BoundedChannelFullMode.DropWrite : BoundedChannelFullMode.DropOldest;
        _intake = Channel.CreateBounded<IntakeItem>(
            new BoundedChannelOptions(options.IntakeCapacity) { FullMode = mode, SingleReader = true, SingleWriter = false },
            OnIntakeDropped);
        Metrics.ObserveStore(() => Volatile.Read(ref _fileBytes), BacklogMeasurements, BacklogAgeMeasurements);
    }

    internal BufferMetrics Metrics { get; }

    public BufferOptions Options => _options;

    public string DatabasePath => _options.DatabasePath;

    public long CommittedSequence => Volatile.Read(ref _committed);

    public bool IsReady => _ready;

    /// <summary>Where a corrupt store was moved at start, if it was.</summary>
    public string? QuarantinedTo { get; private set; }

    public long IntakeDropped => Interlocked.Read(ref _intakeDropped);

    public long EvictedRecords => Interlocked.Read(ref _evicted);

    /// <summary>
    /// Largest store size (database + WAL) the writer measured: after every commit and its checkpoint (where
    /// the file peaks) and around every eviction. A high-water mark for the budget, not a sample.
    /// </summary>
    public long MaxFileBytes => Interlocked.Read(ref _maxFileBytes);

    /// <summary>Batches committed with <c>synchronous=FULL</c> (any Event/CommandAudit/Gap record in them, by default).</summary>
    internal long FullCommits => Interlocked.Read(ref _fullCommits);

    /// <summary>Completes at the next commit; forwarders wait on it for live records.</summary>
    internal Task NextCommit => Volatile.Read(ref _commitSignal).Task;

    internal Action<RecordStore>? StoreOpenedForTests { get; set; }

    internal RecordStore? StoreForTests => _store;

    /// <summary>Returns an error to fail the next append with it (as SQLite would), or null to append normally.</summary>
    internal Func<Microsoft.Data.Sqlite.SqliteException?>? AppendFaultForTests { get; set; }

    /// <summary>Returns an error to throw instead of moving the corrupt file aside (as a failing rename would), or null.</summary>
    internal Func<Exception?>? QuarantineFaultForTests { get; set; }

    /// <summary>True while a corrupt store was closed but its replacement has not succeeded yet (retried with backoff).</summary>
    internal bool ReplacementPending => Volatile.Read(ref _replacement) is not null;

    /// <summary>Changes when a corrupt store was replaced while running: readers must reopen the file.</summary>
    internal int StoreGeneration => Volatile.Read(ref _storeGeneration);

    /// <summary>Commits (or writer rounds) that failed in a row; 0 after a success.</summary>
    public int ConsecutiveFailures => Volatile.Read(ref _consecutiveFailures);

    /// <summary>Opens the store (bounded work, independent of the backlog) and starts the writer.</summary>
    public void Start()
    {
        if (_store is not null)
        {
            return;
        }

        RecordStore store;
        StoreOpenReport report;
        try
        {
            store = RecordStore.Open(_options.DatabasePath, _options.IntegrityCheckTimeout, _time, out report);
            store.ConfigureWal(_walLimit);
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            // Not corruption (that is quarantined above): a directory that cannot be created or written, a full
            // disk, a file we may not open. Nothing can be stored, so start-up fails with a message naming the
            // key and the file; the daemon prints it and exits with its configuration exit code.
            BufferLog.OpenFailed(_logger, _options.DatabasePath, ex);
            throw new OptionsValidationFailedException(
            [
                $"Buffer:DataDirectory: cannot open the record store {_options.DatabasePath}: {ex.Message} "
                + "(the directory must be writable by the service user, on a disk with free space)",
            ]);
        }

        StoreOpenedForTests?.Invoke(store);
        foreach (var (sink, seq) in store.LoadCursors())
        {
            _cursors[sink] = seq;
        }

        _store = store;
        Volatile.Write(ref _committed, store.LastSequence);
        Volatile.Write(ref _oldest, store.OldestSequence());
        NoteFileBytes(store);
        if (report.QuarantinedTo is not null)
        {
            QuarantinedTo = report.QuarantinedTo;
            Metrics.Quarantined.Add(1);
            BufferLog.Quarantined(_logger, report.QuarantineReason ?? "unknown", report.QuarantinedTo);
            var payload = JsonSerializer.SerializeToUtf8Bytes(
                new StoreEventPayload("store_quarantined", report.QuarantineReason ?? "unknown", Path.GetFileName(report.QuarantinedTo)),
                BufferJson.Context.StoreEventPayload);
            TryWrite(new TelemetryRecord(EventStream, RecordKind.Event, _time.GetUtcNow(), TimeSource.Unsynced, _time.GetTimestamp(), payload));
        }

        if (!report.IntegrityCheckCompleted && File.Exists(_options.DatabasePath) && store.LastSequence > 0 && report.QuarantinedTo is null)
        {
            BufferLog.IntegrityCheckIncomplete(_logger, (long)_options.IntegrityCheckTimeout.TotalMilliseconds);
        }

        BufferLog.Ready(_logger, _options.DatabasePath, store.LastSequence, store.FileBytes(), (long)report.OpenDuration.TotalMilliseconds,
            report.IntegrityCheckCompleted ? "passed" : "time-boxed");
        var beat = _heartbeats?.Register("buffer-writer", TimeSpan.FromSeconds(30) + _options.MaintenanceInterval);
        _writer = Task.Run(() => WriterLoopAsync(beat));
        _ready = true;
        if (!report.IntegrityCheckCompleted && store.LastSequence > 0 && report.QuarantinedTo is null && File.Exists(_options.DatabasePath))
        {
            // The time-boxed check did not cover the store: finish it after READY, on a read connection (WAL
            // readers never block the writer).
            _backgroundCheck = Task.Run(BackgroundIntegrityCheckAsync);
        }
    }

    /// <summary>True once the background integrity check ran to its end (found nothing or found damage).</summary>
    internal bool BackgroundCheckCompleted { get => _checkDone; private set => _checkDone = value; }

    /// <summary>
    /// Runs the check to its end. Its read transaction pins a snapshot, so no checkpoint can pass it and the WAL
    /// grows with every commit while it runs: when the WAL reaches 1.5 times its share of the budget, the
    /// writer interrupts the check (<see cref="YieldCheckIfWalTooBig"/>), which starts again from the beginning
    /// after a pause (30 s, doubling up to 30 min) once the checkpoint has shrunk the WAL.
    /// </summary>
    private async Task BackgroundIntegrityCheckAsync()
    {
        var pause = TimeSpan.FromSeconds(30);
        while (BackgroundIntegrityCheckOnce() && !_stopping.IsCancellationRequested)
        {
            BufferLog.BackgroundCheckYielded(_logger, (long)pause.TotalSeconds);
            // Counted after the log line: whoever sees the count (a test, a health probe) also finds the log.
            Interlocked.Increment(ref _checkYields);
            try
            {
                await Task.Delay(pause, _time, _stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            pause = TimeSpan.FromTicks(Math.Min(TimeSpan.FromMinutes(30).Ticks, pause.Ticks * 2));
        }
    }

    /// <summary>Replaces the background check's statement (a slow one stands for a big store).</summary>
    internal string? BackgroundCheckSqlForTests { get; set; }

    /// <summary>Times the background check gave way to the WAL checkpoint.</summary>
    internal int BackgroundCheckYields => Volatile.Read(ref _checkYields);

    /// <summary>Called by the writer after a checkpoint: a running check that holds the WAL past 1.5 times its share is interrupted.</summary>
    private void YieldCheckIfWalTooBig(RecordStore store)
    {
        if (_backgroundCheck is not { IsCompleted: false } || store.WalBytes() <= _walLimit + (_walLimit / 2))
        {
            return;
        }

        lock (_checkGate)
        {
            if (_checkConnection?.Handle is { } handle)
            {
                Volatile.Write(ref _checkYield, 1);
                SQLitePCL.raw.sqlite3_interrupt(handle);
            }
        }
    }

    /// <returns>True if the check was interrupted to let the checkpoint through and should run again later.</returns>
    private bool BackgroundIntegrityCheckOnce()
    {
        Volatile.Write(ref _checkYield, 0);
        // The check reads the file that was current when it started; if the writer replaces the store in the
        // meantime, damage it finds is in the old (already quarantined) file and must not condemn the new one.
        var generation = StoreGeneration;
        try
        {
            var problems = new List<string>();
            var conn = RecordStore.OpenReader(_options.DatabasePath);
            try
            {
                lock (_checkGate)
                {
                    _checkConnection = conn;
                }

                if (_stopping.IsCancellationRequested)
                {
                    return false;
                }

                using var cmd = conn.CreateCommand();
                cmd.CommandText = BackgroundCheckSqlForTests ?? "PRAGMA quick_check(5);";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    problems.Add(r.GetString(0));
                }
            }
            finally
            {
                lock (_checkGate)
                {
                    _checkConnection = null; // before the handle closes: StopAsync interrupts only an open one
                }

                conn.Dispose();
            }

            if (problems is not ["ok"])
            {
                Found("quick_check: " + string.Join("; ", problems));
            }
            else
            {
                BufferLog.BackgroundCheckPassed(_logger);
            }

            BackgroundCheckCompleted = true;
            return false;
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (RecordStore.IsCorruption(ex))
        {
            Found(ex.Message);
            BackgroundCheckCompleted = true;
            return false;
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex) when (ex.SqliteErrorCode == 9 /* INTERRUPT: stopping, or yielding to the checkpoint */)
        {
            return Volatile.Read(ref _checkYield) == 1 && !_stopping.IsCancellationRequested;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException)
        {
            BufferLog.WriterLoopError(_logger, ex);
            return false;
        }

        void Found(string reason)
        {
            BufferLog.BackgroundCheckFailed(_logger, reason);
            ReportCorruption(reason, generation); // the writer quarantines at its next round
        }
    }

    /// <summary>
    /// A reader (the background check, a forwarder) found the store corrupt; the writer quarantines it at its
    /// next round. <paramref name="generation"/> is the <see cref="StoreGeneration"/> the reader's connection
    /// was opened on: a report about a store that was already replaced is ignored.
    /// </summary>
    internal void ReportCorruption(string reason, int generation)
    {
        if (generation == StoreGeneration)
        {
            Volatile.Write(ref _corruptionFound, new CorruptionReport(reason, generation));
        }
    }

    public bool TryWrite(TelemetryRecord record) => Offer(new IntakeItem(record, null));

    public Task<CommitResult> WriteAsync(TelemetryRecord record, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<CommitResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!Offer(new IntakeItem(record, done)))
        {
            return Task.FromResult(new CommitResult(CommitStatus.Stopped, 0));
        }

        return cancellationToken.CanBeCanceled ? done.Task.WaitAsync(cancellationToken) : done.Task;
    }

    private bool Offer(IntakeItem item)
    {
        ArgumentNullException.ThrowIfNull(item.Record);
        if (!_intake.Writer.TryWrite(item))
        {
            return false; // completed: stopping
        }

        Interlocked.Increment(ref _intakeQueued);
        Metrics.RecordsIn.Add(1);
        return true;
    }

    private void OnIntakeDropped(IntakeItem item)
    {
        Interlocked.Decrement(ref _intakeQueued);
        var total = Interlocked.Increment(ref _intakeDropped);
        _intakeDropsByStream.AddOrUpdate(item.Record.Stream, 1, (_, n) => n + 1);
        Metrics.IntakeDropped.Add(1);
        item.Done?.TrySetResult(new CommitResult(CommitStatus.DroppedIntakeFull, 0));
        if (RateLimit(ref _lastDropLog))
        {
            BufferLog.IntakeFull(_logger, total, _options.IntakeFullPolicy);
        }
    }

    public async Task WaitForCommittedAsync(long sequence, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            var signal = NextCommit;
            if (CommittedSequence >= sequence)
            {
                return;
            }

            await signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- cursors (owned by the forwarders, persisted by the writer) ----

    internal long GetCursor(string sink)
    {
        lock (_cursorGate)
        {
            return _cursors.TryGetValue(sink, out var c) ? c : 0;
        }
    }

    /// <summary>Records the sink's new cursor; persisted with the next commit or maintenance tick.</summary>
    internal void SetCursor(string sink, long sequence)
    {
        lock (_cursorGate)
        {
            if (_cursors.TryGetValue(sink, out var c) && c >= sequence)
            {
                return;
            }

            _cursors[sink] = sequence;
            _dirtyCursors[sink] = sequence;
        }
    }

    internal void SetSinkConnected(string sink, bool connected) => _sinkConnected[sink] = connected;

    /// <summary>
    /// Makes a configured sink visible in the status and backlog metrics from the start, before it has
    /// acknowledged anything (cursor "nothing acknowledged yet": its backlog is everything stored).
    /// </summary>
    internal void RegisterSink(string sink)
    {
        lock (_cursorGate)
        {
            _sinks.Add(sink);
        }
    }

    /// <summary>Registered sinks with their cursors (0 when nothing was acknowledged yet).</summary>
    private KeyValuePair<string, long>[] SinkCursors()
    {
        lock (_cursorGate)
        {
            return [.. _sinks.Select(s => new KeyValuePair<string, long>(s, _cursors.TryGetValue(s, out var c) ? c : 0))];
        }
    }

    private Dictionary<string, long>? TakeDirtyCursors()
    {
        lock (_cursorGate)
        {
            if (_dirtyCursors.Count == 0)
            {
                return null;
            }

            var copy = new Dictionary<string, long>(_dirtyCursors, StringComparer.OrdinalIgnoreCase);
            _dirtyCursors.Clear();
            return copy;
        }
    }

    private void ReturnDirtyCursors(Dictionary<string, long> cursors)
    {
        lock (_cursorGate)
        {
            foreach (var (k, v) in cursors)
            {
                if (!_dirtyCursors.TryGetValue(k, out var newer) || newer < v)
                {
                    _dirtyCursors[k] = v;
                }
            }
        }
    }

    // ---- the writer ----

    private async Task WriterLoopAsync(LoopHeartbeat? beat)
    {
        var reader = _intake.Reader;
        var batch = new List<IntakeItem>(_options.BatchSize);
        var lastMaintenance = _time.GetTimestamp();
        try
        {
            while (true)
            {
                beat?.Beat();
                try
                {
                    if (Volatile.Read(ref _replacement) is { } pending)
                    {
                        if (_time.GetTimestamp() >= pending.RetryAt)
                        {
                            TryReplaceCorruptStore(pending.Reason);
                        }
                    }
                    else if (Interlocked.Exchange(ref _corruptionFound, null) is { } damage && damage.Generation == StoreGeneration)
                    {
                        TryReplaceCorruptStore(damage.Reason);
                    }

                    if (!reader.TryPeek(out _))
                    {
                        var wait = reader.WaitToReadAsync().AsTask();
                        var idle = _options.MaintenanceInterval;
                        if (Volatile.Read(ref _replacement) is { } retry)
                        {
                            var until = retry.RetryAt - _time.GetTimestamp();
                            idle = TimeSpan.FromTicks(Math.Clamp((long)(until * ((double)TimeSpan.TicksPerSecond / _time.TimestampFrequency)),
                                TimeSpan.TicksPerMillisecond, idle.Ticks));
                        }

                        var tick = Task.Delay(idle, _time);
                        if (await Task.WhenAny(wait, tick).ConfigureAwait(false) == wait && !await wait.ConfigureAwait(false))
                        {
                            break; // completed and drained
                        }
                    }

                    Drain(reader, batch);
                    if (batch.Count > 0 && batch.Count < _options.BatchSize && _options.BatchInterval > TimeSpan.Zero && !_stopping.IsCancellationRequested)
                    {
                        // Group commit: let companions arrive, one fsync/transaction for all of them.
                        await Task.Delay(_options.BatchInterval, _time).ConfigureAwait(false);
                        Drain(reader, batch);
                    }

                    var maintenanceDue = _time.GetElapsedTime(lastMaintenance) >= _options.MaintenanceInterval;
                    if (batch.Count > 0 || !_intakeDropsByStream.IsEmpty || _pendingGaps.Count > 0)
                    {
                        CommitBatch(batch);
                    }
                    else if (maintenanceDue && _store is not null && TakeDirtyCursors() is { } cursors)
                    {
                        try
                        {
                            _store!.SaveCursors(cursors);
                        }
                        catch (Microsoft.Data.Sqlite.SqliteException)
                        {
                            ReturnDirtyCursors(cursors);
                            throw;
                        }
                    }

                    if (_store is { } current)
                    {
                        EnforceBudget(maintenanceDue);
                        if (maintenanceDue)
                        {
                            NoteFileBytes(current);
                        }
                    }

                    if (maintenanceDue)
                    {
                        lastMaintenance = _time.GetTimestamp();
                    }
                }
                catch (Exception ex)
                {
                    // Classify-log-continue: the records of a failed batch were answered in CommitBatch.
                    if (RateLimit(ref _lastLoopErrorLog))
                    {
                        BufferLog.WriterLoopError(_logger, ex);
                    }

                    Interlocked.Increment(ref _storeErrors);
                    NoteFailure(ex.Message);
                    Metrics.StoreErrors.Add(1, new KeyValuePair<string, object?>("kind", "loop"));
                    if (ex is Microsoft.Data.Sqlite.SqliteException se && RecordStore.IsCorruption(se) && _store is not null && !ReplacementPending)
                    {
                        TryReplaceCorruptStore(se.Message);
                    }

                    foreach (var item in batch)
                    {
                        item.Done?.TrySetResult(new CommitResult(CommitStatus.StoreFailed, 0));
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(100), _time).ConfigureAwait(false);
                }
                finally
                {
                    batch.Clear();
                }
            }

            // Shutdown: cursors and the last gaps must reach the disk too.
            if (!_intakeDropsByStream.IsEmpty || _pendingGaps.Count > 0)
            {
                CommitBatch(batch);
            }

            if (_store is { } final && TakeDirtyCursors() is { } last)
            {
                final.SaveCursors(last);
            }
        }
        finally
        {
            if (beat is not null)
            {
                _heartbeats?.Unregister(beat);
            }
        }
    }

    private void Drain(ChannelReader<IntakeItem> reader, List<IntakeItem> batch)
    {
        while (batch.Count < _options.BatchSize && reader.TryRead(out var item))
        {
            Interlocked.Decrement(ref _intakeQueued);
            batch.Add(item);
        }
    }

    private void CommitBatch(List<IntakeItem> batch)
    {
        var store = _store; // null while a corrupt store waits for its replacement: the batch fails, as a gap
        var records = new List<TelemetryRecord>(batch.Count + _pendingGaps.Count + 4);
        var now = _time.GetUtcNow();
        var gapCount = 0;
        foreach (var stream in _intakeDropsByStream.Keys)
        {
            if (_intakeDropsByStream.TryRemove(stream, out var n))
            {
                _pendingGaps.Add(new GapInfo(stream, null, null, n, EvictionReason.IntakeFull));
            }
        }

        foreach (var gap in _pendingGaps)
        {
            records.Add(RecordStore.GapRecord(gap, now));
            gapCount++;
        }

        var durability = gapCount > 0 ? _options.DurabilityFor(RecordKind.Gap) : Durability.Normal;
        long bytes = 0;
        foreach (var item in batch)
        {
            records.Add(item.Record);
            bytes += item.Record.Payload.Length + item.Record.Stream.Length + 40;
            if (_options.DurabilityFor(item.Record.Kind) == Durability.Full)
            {
                durability = Durability.Full;
            }
        }

        var cursors = TakeDirtyCursors();
        var started = _time.GetTimestamp();
        var status = Append(store, records, durability, cursors, out var first, out var error);
        if (status == StoreWriteStatus.Failed && error is { } corrupt && RecordStore.IsCorruption(corrupt) && store is not null
            && !ReplacementPending && TryReplaceCorruptStore(corrupt.Message))
        {
            // The fresh store takes this batch and every cursor; the old file is kept aside for inspection.
            store = _store!;
            if (cursors is not null)
            {
                ReturnDirtyCursors(cursors);
            }

            cursors = TakeDirtyCursors();
            status = Append(store, records, durability, cursors, out first, out error);
        }

        if (status == StoreWriteStatus.Full && store is not null)
        {
            var n = Interlocked.Increment(ref _storeErrors);
            Metrics.StoreErrors.Add(1, new KeyValuePair<string, object?>("kind", "disk_full"));
            if (RateLimit(ref _lastFullLog))
            {
                BufferLog.DiskFull(_logger, records.Count, n, error!);
            }

            // Make room (a tenth of the store) and try once more.
            var used = SafeUsedBytes(store);
            Evict(Math.Max(used / 10, bytes * 2), null, EvictionReason.DiskFull);
            first = store.LastSequence + 1;
            status = Append(store, records, durability, cursors, out first, out error);
        }

        if (status != StoreWriteStatus.Committed)
        {
            if (cursors is not null)
            {
                ReturnDirtyCursors(cursors);
            }

            var n = Interlocked.Increment(ref _storeErrors);
            NoteFailure(error?.Message ?? (store is null ? "the record store is closed while a corrupt store is being replaced" : status.ToString()));
            Metrics.StoreErrors.Add(1, new KeyValuePair<string, object?>("kind", status == StoreWriteStatus.Full ? "disk_full" : "io"));
            if (RateLimit(ref _lastFullLog))
            {
                BufferLog.CommitFailed(_logger, records.Count, n,
                    error ?? (Exception)new InvalidOperationException("the record store is closed: a corrupt store is waiting to be replaced"));
            }

            // Gap records stay pending; the refused records become a gap themselves.
            foreach (var g in batch.GroupBy(i => i.Record.Stream))
            {
                _pendingGaps.Add(new GapInfo(g.Key, null, null, g.Count(), EvictionReason.StoreFailed));
            }

            foreach (var item in batch)
            {
                item.Done?.TrySetResult(new CommitResult(CommitStatus.StoreFailed, 0));
            }

            return;
        }

        store = _store!;
        _pendingGaps.Clear();
        Volatile.Write(ref _consecutiveFailures, 0);
        if (durability == Durability.Full)
        {
            Interlocked.Increment(ref _fullCommits);
        }

        // The largest batch so far, not the last one: a small batch followed by a full one must not
        // push the file over the budget before the next check (batches vary more now that commits are fast).
        Interlocked.Exchange(ref _lastBatchBytes, Math.Max(Interlocked.Read(ref _lastBatchBytes), bytes));
        Metrics.CommitLatency.Record(_time.GetElapsedTime(started).TotalSeconds);
        Metrics.BatchSize.Record(records.Count);
        Metrics.Committed.Add(records.Count);
        PublishCommitted(store.LastSequence);
        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Done?.TrySetResult(new CommitResult(CommitStatus.Committed, first + gapCount + i));
        }

        // After the watermark moved: the batch is answered, the next one waits (as it would behind an
        // in-commit autocheckpoint) and the WAL stays within its share of the budget.
        if (store.CheckpointDue)
        {
            var checkpointStarted = _time.GetTimestamp();
            store.Checkpoint();
            Metrics.CheckpointLatency.Record(_time.GetElapsedTime(checkpointStarted).TotalSeconds);
            YieldCheckIfWalTooBig(store);
        }

        NoteFileBytes(store);
    }

    private StoreWriteStatus Append(RecordStore? store, List<TelemetryRecord> records, Durability durability,
        Dictionary<string, long>? cursors, out long first, out Microsoft.Data.Sqlite.SqliteException? error)
    {
        first = 0;
        if (store is null)
        {
            error = null;
            return StoreWriteStatus.Failed;
        }

        if (AppendFaultForTests?.Invoke() is { } fault)
        {
            error = fault;
            return fault.SqliteErrorCode == 13 ? StoreWriteStatus.Full : StoreWriteStatus.Failed;
        }

        try
        {
            return store.Append(records, durability, cursors, out first, out error);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ObjectDisposedException)
        {
            // A closed or unusable connection: a failed commit like any other (its records become a gap).
            error = new Microsoft.Data.Sqlite.SqliteException(ex.Message, 21 /* MISUSE */);
            return StoreWriteStatus.Failed;
        }
    }

    private void NoteFailure(string message)
    {
        Volatile.Write(ref _lastFailure, message);
        Interlocked.Increment(ref _consecutiveFailures);
    }

    /// <summary>
    /// SQLite said the file is corrupt while running: move it aside as at start (never deleted), continue on a
    /// fresh store whose sequences continue above the old ones, re-persist every cursor, and say so (log,
    /// counter, an event record upstream). Forwarders notice <see cref="StoreGeneration"/> and reopen.
    /// If closing, moving or reopening fails, the old store stays closed (<see cref="_store"/> is null, every
    /// commit fails and becomes a store_failed gap) and the writer retries with backoff until it succeeds.
    /// </summary>
    private bool TryReplaceCorruptStore(string reason)
    {
        var pending = Volatile.Read(ref _replacement);
        if (pending is null)
        {
            var old = _store!;
            pending = new PendingReplacement(reason, old.LastSequence);
            Volatile.Write(ref _replacement, pending);
            _store = null;
            try
            {
                // No checkpoint: the WAL must not be copied into the damaged file; it moves aside with it.
                old.CloseWithoutCheckpoint();
            }
            catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or InvalidOperationException)
            {
                BufferLog.WriterLoopError(_logger, ex);
            }
        }

        try
        {
            if (pending.MovedTo is null)
            {
                if (QuarantineFaultForTests?.Invoke() is { } fault)
                {
                    throw fault;
                }

                pending.MovedTo = RecordStore.Quarantine(_options.DatabasePath, _time);
            }

            var movedTo = pending.MovedTo;
            var floor = pending.Floor;
            var store = RecordStore.Open(_options.DatabasePath, _options.IntegrityCheckTimeout, _time, out _, floor);
            try
            {
                store.ConfigureWal(_walLimit);
            }
            catch
            {
                store.Dispose();
                throw;
            }

            _store = store;
            Volatile.Write(ref _replacement, null);
            lock (_cursorGate)
            {
                foreach (var (sink, seq) in _cursors)
                {
                    _dirtyCursors[sink] = seq;
                }
            }

            _quarantinedAtRuntime = true;
            // Damage reported about the old file (the background check, a forwarder) is no longer news.
            Volatile.Write(ref _corruptionFound, null);
            Interlocked.Increment(ref _storeGeneration);
            Volatile.Write(ref _oldest, store.OldestSequence());
            NoteFileBytes(store);
            PublishCommitted(store.LastSequence);
            Metrics.Quarantined.Add(1);
            BufferLog.QuarantinedWhileRunning(_logger, pending.Reason, movedTo, floor);
            QuarantinedTo = movedTo; // after the log line: whoever sees where the file went also finds why
            var payload = JsonSerializer.SerializeToUtf8Bytes(
                new StoreEventPayload("store_quarantined", pending.Reason, Path.GetFileName(movedTo)), BufferJson.Context.StoreEventPayload);
            TryWrite(new TelemetryRecord(EventStream, RecordKind.Event, _time.GetUtcNow(), TimeSource.Unsynced, _time.GetTimestamp(), payload));
            return true;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException or StoreCorruptException
            or InvalidOperationException)
        {
            // The writer keeps failing (and health says so) rather than losing track of the file; retried with backoff.
            pending.Attempts++;
            var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 100 * Math.Pow(2, Math.Min(pending.Attempts - 1, 10))));
            pending.RetryAt = _time.GetTimestamp() + (long)(delay.TotalSeconds * _time.TimestampFrequency);
            Interlocked.Increment(ref _storeErrors);
            NoteFailure("the corrupt record store could not be replaced: " + ex.Message);
            if (RateLimit(ref _lastQuarantineFailLog))
            {
                BufferLog.QuarantineFailed(_logger, _options.DatabasePath, ex);
            }

            return false;
        }
    }

    private void PublishCommitted(long sequence)
    {
        Volatile.Write(ref _committed, sequence);
        Interlocked.Exchange(ref _commitSignal, NewSignal()).TrySetResult();
    }

    private void NoteFileBytes(RecordStore store)
    {
        var bytes = store.FileBytes();
        Volatile.Write(ref _fileBytes, bytes);
        var max = Interlocked.Read(ref _maxFileBytes);
        while (bytes > max && Interlocked.CompareExchange(ref _maxFileBytes, bytes, max) != max)
        {
            max = Interlocked.Read(ref _maxFileBytes);
        }
    }

    private static long SafeUsedBytes(RecordStore store)
    {
        try
        {
            return store.UsedBytes();
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return 0;
        }
    }

    private void EnforceBudget(bool maintenanceDue)
    {
        var store = _store!;
        if (maintenanceDue)
        {
            Evict(0, _time.GetUtcNow() - _options.MaxAge, EvictionReason.Expired);
        }

        var limit = _options.MaxBytes - _walLimit;
        var reason = EvictionReason.Budget;
        var used = store.UsedBytes();
        if (maintenanceDue && _options.MinFreeDiskBytes > 0 && FreeDiskBytes() is { } free && free < _options.MinFreeDiskBytes)
        {
            if (RateLimit(ref _lastLowDiskLog))
            {
                BufferLog.LowDisk(_logger, free, _options.MinFreeDiskBytes);
            }

            var allowed = Math.Max(0, used - (_options.MinFreeDiskBytes - free));
            if (allowed < limit)
            {
                limit = allowed;
                reason = EvictionReason.MinFreeDisk;
            }
        }

        // Leave room for the next batch so the file never has to go over the budget before the next check.
        var highWater = (long)(limit * 0.95) - Interlocked.Read(ref _lastBatchBytes) * 2;
        if (used > highWater)
        {
            var target = (long)(limit * 0.85) - Interlocked.Read(ref _lastBatchBytes) * 2;
            Evict(Math.Max(used - target, 4096), null, reason);
            NoteFileBytes(store);
        }
    }

    private void Evict(long bytesToFree, DateTimeOffset? expiredBefore, EvictionReason reason)
    {
        var store = _store!;
        var gaps = store.Evict(bytesToFree, expiredBefore, reason, _time.GetUtcNow(), out var evicted);
        if (evicted == 0)
        {
            return;
        }

        NoteFileBytes(store); // the delete's WAL frames, before the vacuum returns pages
        store.Compact();
        NoteFileBytes(store);
        Volatile.Write(ref _oldest, store.OldestSequence());
        Interlocked.Add(ref _evicted, evicted);
        Metrics.Evicted.Add(evicted, new KeyValuePair<string, object?>("reason", ReasonTag(reason)));
        Metrics.Committed.Add(gaps.Count);
        BufferLog.Evicted(_logger, evicted, reason, store.UsedBytes(), _options.MaxBytes);
        PublishCommitted(store.LastSequence);
    }

    internal static string ReasonTag(EvictionReason reason) => reason switch
    {
        EvictionReason.Expired => "expired",
        EvictionReason.Budget => "budget",
        EvictionReason.MinFreeDisk => "min_free_disk",
        EvictionReason.DiskFull => "disk_full",
        EvictionReason.IntakeFull => "intake_full",
        _ => "store_failed",
    };

    private long? FreeDiskBytes()
    {
        try
        {
            return new DriveInfo(Path.GetDirectoryName(_options.DatabasePath)!).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private bool RateLimit(ref long last)
    {
        var now = _time.GetTimestamp();
        var prev = Interlocked.Read(ref last);
        if (prev != 0 && _time.GetElapsedTime(prev, now) < TimeSpan.FromSeconds(10))
        {
            return false;
        }

        return Interlocked.CompareExchange(ref last, now, prev) == prev;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // ---- queries (own read connections; never the writer's) ----

    public IReadOnlyList<BufferedRecord> ReadHistory(string? stream, long afterSequence, int limit)
    {
        using var conn = RecordStore.OpenReader(_options.DatabasePath);
        return RecordStore.ReadAfter(conn, afterSequence, long.MaxValue, limit, stream);
    }

    public long SequenceBefore(DateTimeOffset wallClock)
    {
        using var conn = RecordStore.OpenReader(_options.DatabasePath);
        var (oldest, _) = RecordStore.FirstAfter(conn, 0);
        if (oldest is not { } lo)
        {
            return 0;
        }

        // The smallest x whose first following record is at or after the time (or has none).
        lo -= 1;
        var hi = CommittedSequence;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var (seq, wall) = RecordStore.FirstAfter(conn, mid);
            if (seq is null || wall >= wallClock)
            {
                hi = mid;
            }
            else
            {
                lo = Math.Max(mid + 1, seq.Value);
            }
        }

        return lo;
    }

    public BufferStatus GetStatus()
    {
        using var conn = RecordStore.OpenReader(_options.DatabasePath);
        var (oldest, _) = RecordStore.FirstAfter(conn, 0);
        var count = RecordStore.CountAfter(conn, 0);
        var committed = CommittedSequence;
        var sinks = new List<SinkStatus>();
        DateTimeOffset? oldestUnsent = null;
        foreach (var (sink, cursor) in SinkCursors())
        {
            var (_, wall) = RecordStore.FirstAfter(conn, cursor);
            var backlog = RecordStore.CountAfter(conn, cursor);
            sinks.Add(new SinkStatus(sink, cursor, Lag(committed, cursor), backlog, wall, _sinkConnected.TryGetValue(sink, out var c) && c));
            if (wall is { } w && (oldestUnsent is null || w < oldestUnsent))
            {
                oldestUnsent = w;
            }
        }

        return new BufferStatus(_ready, committed, oldest, count, Volatile.Read(ref _fileBytes), _options.MaxBytes,
            Math.Max(0, Interlocked.Read(ref _intakeQueued)), IntakeDropped, EvictedRecords, oldestUnsent, sinks);
    }

    /// <summary>Sequences between the cursor and the watermark, ignoring those below the oldest stored record.</summary>
    private long Lag(long committed, long cursor) => Math.Max(0, committed - Math.Max(cursor, Volatile.Read(ref _oldest) - 1));

    private IEnumerable<Measurement<long>> BacklogMeasurements()
    {
        var committed = CommittedSequence;
        return [.. SinkCursors().Select(c => new Measurement<long>(Lag(committed, c.Value), new KeyValuePair<string, object?>("sink", c.Key)))];
    }

    private IEnumerable<Measurement<double>> BacklogAgeMeasurements()
    {
        if (!_ready)
        {
            return [];
        }

        try
        {
            using var conn = RecordStore.OpenReader(_options.DatabasePath);
            var cursors = SinkCursors();
            var now = _time.GetUtcNow();
            return [.. cursors.Select(c => new Measurement<double>(
                RecordStore.FirstAfter(conn, c.Value).WallClock is { } w ? Math.Max(0, (now - w).TotalSeconds) : 0,
                new KeyValuePair<string, object?>("sink", c.Key)))];
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return [];
        }
    }

    public IEnumerable<ComponentHealth> Report()
    {
        var details = new Dictionary<string, object?>
        {
            ["committed_sequence"] = CommittedSequence,
            ["file_bytes"] = Volatile.Read(ref _fileBytes),
            ["intake_dropped"] = IntakeDropped,
            ["evicted"] = EvictedRecords,
            ["store_errors"] = Interlocked.Read(ref _storeErrors),
        };
        var failures = ConsecutiveFailures;
        details["consecutive_failures"] = failures;
        if (!_ready || _writerFaulted || _writer is { IsCompleted: true })
        {
            yield return new ComponentHealth("buffer", HealthState.Unhealthy, "record buffer not running", details);
        }
        else if (failures >= FailedCommitsUnhealthy)
        {
            yield return new ComponentHealth("buffer", HealthState.Unhealthy,
                $"{failures} commits in a row failed; records are not being stored (last error: {Volatile.Read(ref _lastFailure)})", details);
        }
        else if (failures > 0)
        {
            yield return new ComponentHealth("buffer", HealthState.Degraded,
                $"the last commit failed and its records were dropped (counted as a gap); retrying (error: {Volatile.Read(ref _lastFailure)})", details);
        }
        else if (QuarantinedTo is not null)
        {
            details["quarantined_to"] = Path.GetFileName(QuarantinedTo);
            yield return new ComponentHealth("buffer", HealthState.Degraded,
                _quarantinedAtRuntime ? "the store turned out corrupt while running; it was moved aside and a fresh store is in use"
                    : "a corrupt store was quarantined at start", details);
        }
        else
        {
            yield return new ComponentHealth("buffer", HealthState.Healthy, "record buffer writing", details);
        }
    }

    /// <summary>Stops taking records, commits what is queued, saves cursors and closes the store.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        _intake.Writer.TryComplete();
        _stopping.Cancel();
        _ready = false;
        if (_backgroundCheck is { } check)
        {
            // An interrupt sent before the check's statement started is lost: repeat it until the check ends.
            while (!check.IsCompleted)
            {
                lock (_checkGate)
                {
                    if (_checkConnection?.Handle is { } handle)
                    {
                        SQLitePCL.raw.sqlite3_interrupt(handle);
                    }
                }

                await Task.WhenAny(check, Task.Delay(TimeSpan.FromMilliseconds(20))).ConfigureAwait(false);
            }

            await check.ConfigureAwait(false);
        }
        if (_writer is not null)
        {
            try
            {
                await _writer.ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                _writerFaulted = true;
                BufferLog.WriterLoopError(_logger, ex);
            }
        }

        while (_intake.Reader.TryRead(out var left))
        {
            left.Done?.TrySetResult(new CommitResult(CommitStatus.Stopped, 0));
        }

        if (_store is { } store)
        {
            BufferLog.Stopped(_logger, store.LastSequence);
            store.Dispose();
            _store = null;
        }

        Interlocked.Exchange(ref _commitSignal, NewSignal()).TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Metrics.Dispose();
            _stopping.Dispose();
        }
    }

    private sealed record CorruptionReport(string Reason, int Generation);

    /// <summary>A corrupt store that was closed and is being replaced: what is done so far and when to retry.</summary>
    private sealed class PendingReplacement(string reason, long floor)
    {
        public string Reason { get; } = reason;

        public long Floor { get; } = floor;

        public string? MovedTo { get; set; }

        public int Attempts { get; set; }

        public long RetryAt { get; set; }
    }

    private readonly record struct IntakeItem(TelemetryRecord Record, TaskCompletionSource<CommitResult>? Done);
}
