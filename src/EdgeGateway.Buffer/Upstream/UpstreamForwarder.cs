using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Buffer.Upstream;

/// <summary>
/// Feeds one sink from the buffer: reads from the sink's persisted cursor in sequence order, keeps at
/// most the inflight window unacknowledged, moves the cursor over the contiguous acknowledged prefix,
/// resends everything above the cursor after a link loss, ack timeout or restart, and applies the
/// replay governor (records/s, bytes/s, live records ahead of the backlog, per-stream downsampling).
/// </summary>
public sealed class UpstreamForwarder : ISinkAcknowledger, IAsyncDisposable
{
    private readonly RecordBuffer _buffer;
    private readonly IUpstreamSink _sink;
    private readonly SinkForwardingOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LoopHeartbeatRegistry? _heartbeats;
    private readonly ConcurrentQueue<long> _acks = new();
    private readonly Dictionary<long, (Segment Segment, int Index)> _pending = [];
    private readonly List<(Regex Pattern, long IntervalTicks)> _downsample;
    private readonly CancellationTokenSource _stop = new();
    private readonly ExaminedSequences _examined = new();
    private TaskCompletionSource _wake = NewSignal();
    private string? _lostReason;
    private Lane? _backlog;
    private Lane _live = null!;
    private long _cursor;
    private long _liveSent;
    private long _backlogSent;
    private double _recordTokens;
    private double _byteTokens;
    private long _lastRefill;
    private TimeSpan _retryDelay;
    private Task? _loop;
    private SqliteConnection? _conn;
    private int _connGeneration;

    public UpstreamForwarder(RecordBuffer buffer, IUpstreamSink sink, SinkForwardingOptions options, TimeProvider time,
        ILogger<UpstreamForwarder> logger, LoopHeartbeatRegistry? heartbeats = null)
    {
        _buffer = buffer;
        _sink = sink;
        _options = options;
        _time = time;
        _logger = logger;
        _heartbeats = heartbeats;
        _retryDelay = options.RetryMinDelay;
        _downsample = [.. options.Downsample.Select(d => (StreamPattern(d.Key), (long)(d.Value.TotalSeconds * time.TimestampFrequency)))];
    }

    public string SinkName => _sink.Name;

    /// <summary>Last sequence such that it and everything before it was acknowledged (or skipped by downsampling).</summary>
    public long Cursor => Interlocked.Read(ref _cursor);

    /// <summary>Records sent and not yet acknowledged.</summary>
    public int Inflight { get; private set; }

    public long Rewinds { get; private set; }

    /// <summary>Returns an error to throw instead of reading the store (as a corrupt page would), or null to read normally.</summary>
    internal Func<Exception?>? ReadFaultForTests { get; set; }

    public void Start()
    {
        // Visible in the status and backlog metrics from now on, even if the link never comes up.
        _buffer.RegisterSink(_sink.Name);
        _loop ??= Task.Run(() => RunAsync(_stop.Token));
    }

    public void Acknowledge(long sequence)
    {
        _acks.Enqueue(sequence);
        Wake();
    }

    public void ConnectionLost(string reason)
    {
        Volatile.Write(ref _lostReason, reason);
        Wake();
    }

    private void Wake() => Volatile.Read(ref _wake).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A stream pattern where <c>*</c> stands for one path segment.</summary>
    private static Regex StreamPattern(string pattern)
        => new("^" + Regex.Escape(pattern).Replace("\\*", "[^/]*", StringComparison.Ordinal) + "$", RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));

    private async Task RunAsync(CancellationToken ct)
    {
        var beat = _heartbeats?.Register($"forwarder-{_sink.Name}", TimeSpan.FromSeconds(30));
        SqliteConnection? conn = null;
        var started = false;
        try
        {
            // Never ends before stop is requested: every failure (a store that cannot be opened, a corrupt page,
            // a throwing rewind) is logged, backed off and retried.
            while (!ct.IsCancellationRequested)
            {
                beat?.Beat();
                try
                {
                    var generation = _buffer.StoreGeneration;
                    if (conn is null || generation != _connGeneration)
                    {
                        // First round, or the writer replaced a corrupt store: this connection reads the old file.
                        // The generation is taken before the open and kept only once the open succeeded, so a
                        // failed open is retried and a replacement during the open is noticed next round.
                        var fresh = RecordStore.OpenReader(_buffer.DatabasePath);
                        conn?.Dispose();
                        conn = fresh;
                        _conn = conn;
                        _connGeneration = generation;
                        Reset(started ? Cursor : _buffer.GetCursor(_sink.Name), log: true);
                        started = true;
                    }

                    await StepAsync(conn, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ct.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    BufferLog.ForwarderLoopError(_logger, _sink.Name, ex);
                    NoteCorruption(ex);
                    try
                    {
                        await RewindAsync("loop_error", "loop error: " + ex.GetType().Name, ct).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (ct.IsCancellationRequested)
                    {
                        break;
                    }
                    catch (Exception rewindError)
                    {
                        BufferLog.ForwarderLoopError(_logger, _sink.Name, rewindError);
                        NoteCorruption(rewindError);
                        try
                        {
                            await Task.Delay(_retryDelay, _time, ct).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (ct.IsCancellationRequested)
                        {
                            break;
                        }
                    }
                }
            }
        }
        finally
        {
            conn?.Dispose();
            _conn = null;
            if (beat is not null)
            {
                _heartbeats?.Unregister(beat);
            }
        }
    }

    /// <summary>Corruption seen on this forwarder's connection is the writer's to handle: it quarantines the store.</summary>
    private void NoteCorruption(Exception ex)
    {
        if (ex is SqliteException se && RecordStore.IsCorruption(se) && _conn is not null)
        {
            _buffer.ReportCorruption($"read by forwarder {_sink.Name}: {se.Message}", _connGeneration);
        }
    }

    private async Task StepAsync(SqliteConnection conn, CancellationToken ct)
    {
        var wake = Volatile.Read(ref _wake);
        var commit = _buffer.NextCommit;
        ProcessAcks();
        if (Interlocked.Exchange(ref _lostReason, null) is { } lost)
        {
            await RewindAsync("disconnect", "connection lost: " + lost, ct).ConfigureAwait(false);
            return;
        }

        if (OldestPendingSentAt() is { } sentAt && _time.GetElapsedTime(sentAt) > _options.AckTimeout)
        {
            await RewindAsync("ack_timeout", "acknowledgement timeout", ct).ConfigureAwait(false);
            return;
        }

        var room = _options.InflightWindow - Inflight;
        var committed = _buffer.CommittedSequence;
        var liveHas = _live.Next < committed;
        var backlogHas = _backlog is { ReadComplete: false };
        if (room <= 0 || (!liveHas && !backlogHas))
        {
            await WaitAsync(wake, commit, TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            return;
        }

        Refill();
        var allowed = Math.Min(room, _options.BatchSize);
        if (_options.MaxRecordsPerSecond > 0)
        {
            allowed = (int)Math.Min(allowed, Math.Floor(_recordTokens));
        }

        if (allowed < 1 || (_options.MaxBytesPerSecond > 0 && _byteTokens <= 0))
        {
            var needRecords = _options.MaxRecordsPerSecond > 0 ? (1 - _recordTokens) / _options.MaxRecordsPerSecond : 0;
            var needBytes = _options.MaxBytesPerSecond > 0 ? -_byteTokens / _options.MaxBytesPerSecond : 0;
            var delay = TimeSpan.FromSeconds(Math.Clamp(Math.Max(needRecords, needBytes), 0.001, 1));
            await WaitAsync(wake, null, delay, ct).ConfigureAwait(false);
            return;
        }

        var useLive = liveHas && (!backlogHas || _liveSent <= _options.LiveShare * (_liveSent + _backlogSent));
        var lane = useLive ? _live : _backlog!;
        var upTo = useLive ? committed : lane.Limit;
        if (ReadFaultForTests?.Invoke() is { } fault)
        {
            throw fault;
        }

        var records = RecordStore.ReadAfter(conn, lane.Next, upTo, allowed);
        if (records.Count == 0)
        {
            if (!useLive)
            {
                // Everything up to the live start was read: close the backlog lane.
                lane.ReadComplete = true;
                lane.Add(new Segment(lane, lane.Limit, _time.GetTimestamp(), []));
                AdvanceCursor();
            }
            else
            {
                await WaitAsync(wake, commit, TimeSpan.FromMilliseconds(200), ct).ConfigureAwait(false);
            }

            return;
        }

        var batch = new List<BufferedRecord>(records.Count);
        long bytes = 0;
        var start = lane.Next;
        long end = lane.Next;
        var skipped = 0;
        foreach (var r in records)
        {
            var size = r.Payload.Length + r.Stream.Length;
            if (_options.MaxBytesPerSecond > 0 && batch.Count > 0 && bytes + size > _byteTokens)
            {
                break; // the rest waits for byte tokens; it is read again next time
            }

            end = r.Sequence;
            if (Downsampled(lane, r))
            {
                // A retry from the cursor reads (and skips) the same records again: count each once.
                if (!_examined.Contains(r.Sequence))
                {
                    skipped++;
                }

                continue;
            }

            bytes += size;
            batch.Add(r);
        }

        _examined.Add(start, end);
        var segment = new Segment(lane, end, _time.GetTimestamp(), [.. batch.Select(r => r.Sequence)]);
        lane.Next = end;
        lane.Add(segment);
        for (var i = 0; i < batch.Count; i++)
        {
            _pending[batch[i].Sequence] = (segment, i);
        }

        Inflight += batch.Count;
        _recordTokens -= batch.Count;
        _byteTokens -= bytes;
        if (useLive)
        {
            _liveSent += batch.Count;
        }
        else
        {
            _backlogSent += batch.Count;
        }

        if (skipped > 0)
        {
            _buffer.Metrics.Skipped.Add(skipped, new KeyValuePair<string, object?>("sink", _sink.Name));
        }

        if (batch.Count == 0)
        {
            AdvanceCursor();
            return;
        }

        var result = await _sink.SendAsync(batch, this, ct).ConfigureAwait(false);
        _buffer.SetSinkConnected(_sink.Name, result == SinkSendResult.Sent);
        if (result != SinkSendResult.Sent)
        {
            await RewindAsync(result == SinkSendResult.Disconnected ? "disconnect" : "nack",
                result == SinkSendResult.Disconnected ? "sink disconnected" : "sink refused the batch", ct).ConfigureAwait(false);
            return;
        }

        _buffer.Metrics.Sent.Add(batch.Count, new KeyValuePair<string, object?>("sink", _sink.Name));
    }

    private bool Downsampled(Lane lane, BufferedRecord r)
    {
        if (_downsample.Count == 0 || r.Kind is not (RecordKind.DroneState or RecordKind.SensorReading))
        {
            return false;
        }

        foreach (var (pattern, interval) in _downsample)
        {
            if (!pattern.IsMatch(r.Stream))
            {
                continue;
            }

            // Monotonic time of capture; a value that goes backwards (a restart) starts the stream afresh.
            if (lane.LastSent.TryGetValue(r.Stream, out var last) && r.MonotonicTimestamp >= last && r.MonotonicTimestamp - last < interval)
            {
                return true;
            }

            lane.LastSent[r.Stream] = r.MonotonicTimestamp;
            return false;
        }

        return false;
    }

    private void Refill()
    {
        var now = _time.GetTimestamp();
        var elapsed = _time.GetElapsedTime(_lastRefill, now).TotalSeconds;
        _lastRefill = now;
        if (_options.MaxRecordsPerSecond > 0)
        {
            var cap = Math.Max(_options.MaxRecordsPerSecond, 1);
            _recordTokens = Math.Min(cap, _recordTokens + (elapsed * _options.MaxRecordsPerSecond));
        }

        if (_options.MaxBytesPerSecond > 0)
        {
            _byteTokens = Math.Min(_options.MaxBytesPerSecond, _byteTokens + (elapsed * _options.MaxBytesPerSecond));
        }
    }

    private async Task WaitAsync(TaskCompletionSource wake, Task? commit, TimeSpan timeout, CancellationToken ct)
    {
        using var delayCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var delay = Task.Delay(timeout, _time, delayCts.Token);
        if (commit is null)
        {
            await Task.WhenAny(wake.Task, delay).ConfigureAwait(false);
        }
        else
        {
            await Task.WhenAny(wake.Task, commit, delay).ConfigureAwait(false);
        }

        delayCts.Cancel();
        if (wake.Task.IsCompleted)
        {
            Interlocked.CompareExchange(ref _wake, NewSignal(), wake);
        }

        ct.ThrowIfCancellationRequested();
    }

    private void ProcessAcks()
    {
        var any = false;
        var acked = 0;
        while (_acks.TryDequeue(out var seq))
        {
            if (_pending.Remove(seq, out var entry))
            {
                entry.Segment.Ack(entry.Index);
                Inflight--;
                acked++;
                any = true;
            }
        }

        if (any)
        {
            _retryDelay = _options.RetryMinDelay;
            _buffer.Metrics.Acked.Add(acked, new KeyValuePair<string, object?>("sink", _sink.Name));
            AdvanceCursor();
        }
    }

    private void AdvanceCursor()
    {
        _backlog?.Advance();
        _live.Advance();
        long cursor;
        if (_backlog is { } b)
        {
            if (b.ReadComplete && b.DoneThrough >= b.Limit && b.Segments.Count == 0)
            {
                _backlog = null;
                cursor = _live.DoneThrough;
                BufferLog.ForwarderCaughtUp(_logger, _sink.Name, cursor);
            }
            else
            {
                cursor = b.DoneThrough;
            }
        }
        else
        {
            cursor = _live.DoneThrough;
        }

        if (cursor > Interlocked.Read(ref _cursor))
        {
            Interlocked.Exchange(ref _cursor, cursor);
            _buffer.SetCursor(_sink.Name, cursor);
            _examined.PassedThrough(cursor);
        }
    }

    private long? OldestPendingSentAt()
    {
        long? oldest = null;
        foreach (var lane in _backlog is null ? new[] { _live } : new[] { _backlog, _live })
        {
            foreach (var s in lane.Segments)
            {
                if (s.Pending > 0)
                {
                    if (oldest is null || s.SentAt < oldest)
                    {
                        oldest = s.SentAt;
                    }

                    break;
                }
            }
        }

        return oldest;
    }

    /// <param name="tag">The metric's reason tag: ack_timeout, nack, disconnect or loop_error.</param>
    private async Task RewindAsync(string tag, string reason, CancellationToken ct)
    {
        Rewinds++;
        _buffer.Metrics.Rewinds.Add(1, new KeyValuePair<string, object?>("sink", _sink.Name), new KeyValuePair<string, object?>("reason", tag));
        _buffer.SetSinkConnected(_sink.Name, false);
        var delay = _retryDelay;
        BufferLog.ForwarderRewind(_logger, _sink.Name, reason, Cursor, (long)delay.TotalMilliseconds);
        _retryDelay = TimeSpan.FromTicks(Math.Min(_options.RetryMaxDelay.Ticks, delay.Ticks * 2));
        // Forget what is in flight: everything above the cursor is sent again (at-least-once).
        Reset(Cursor, log: false);
        await Task.Delay(delay, _time, ct).ConfigureAwait(false);
        while (_acks.TryDequeue(out _))
        {
            // Acks of the abandoned window carry no information the resend will not bring again.
        }
    }

    private void Reset(long cursor, bool log)
    {
        _pending.Clear();
        Inflight = 0;
        _liveSent = 0;
        _backlogSent = 0;
        Interlocked.Exchange(ref _cursor, cursor);
        _lastRefill = _time.GetTimestamp();
        _recordTokens = Math.Max(1, Math.Min(_options.MaxRecordsPerSecond, _options.BatchSize));
        _byteTokens = _options.MaxBytesPerSecond;
        var committed = _buffer.CommittedSequence;
        // The backlog is measured from the oldest stored record: sequences below it (evicted, or a new
        // sink at cursor 0) are not records to send.
        long effective;
        try
        {
            if (ReadFaultForTests?.Invoke() is { } fault)
            {
                throw fault;
            }

            var oldest = _conn is null ? null : RecordStore.FirstAfter(_conn, cursor).Sequence;
            effective = oldest is { } o ? Math.Max(cursor, o - 1) : committed;
        }
        catch (SqliteException ex)
        {
            // Unknown where the stored records start (a corrupt page near the cursor): skip nothing, resend
            // from the cursor; the reads that follow fail or succeed on their own and are retried with backoff.
            BufferLog.ForwarderLoopError(_logger, _sink.Name, ex);
            NoteCorruption(ex);
            effective = cursor;
        }

        var catchUp = _options.LiveShare > 0 && committed - effective > _options.CatchUpThreshold;
        cursor = Math.Max(cursor, Math.Min(effective, committed));
        Interlocked.Exchange(ref _cursor, cursor);
        _examined.PassedThrough(cursor);
        if (catchUp)
        {
            _backlog = new Lane(cursor, committed);
            _live = new Lane(committed, long.MaxValue);
        }
        else
        {
            _backlog = null;
            _live = new Lane(cursor, long.MaxValue);
        }

        if (log)
        {
            BufferLog.ForwarderStarted(_logger, _sink.Name, cursor, committed, catchUp);
        }
    }

    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The loop catches everything itself; should anything escape, the host's shutdown (and the
                // buffer's StopAsync after it) must still run.
                BufferLog.ForwarderLoopError(_logger, _sink.Name, ex);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>A run of reads from <see cref="Start"/> on; its records are acknowledged into <see cref="DoneThrough"/>.</summary>
    private sealed class Lane(long start, long limit)
    {
        public long Next { get; set; } = start;

        public long Limit { get; } = limit;

        public long DoneThrough { get; private set; } = start;

        public bool ReadComplete { get; set; }

        public LinkedList<Segment> Segments { get; } = new();

        public Dictionary<string, long> LastSent { get; } = new(StringComparer.Ordinal);

        public void Add(Segment s) => Segments.AddLast(s);

        public void Advance()
        {
            while (Segments.First is { } first)
            {
                var s = first.Value;
                if (s.Pending == 0)
                {
                    DoneThrough = s.End;
                    Segments.RemoveFirst();
                    continue;
                }

                // Part of a batch: everything before its first unacknowledged record is done.
                DoneThrough = Math.Max(DoneThrough, s.FirstUnacked - 1);
                return;
            }
        }
    }

    /// <summary>One read: every record in (previous end, <see cref="End"/>] was either sent (<c>sequences</c>) or skipped.</summary>
    private sealed class Segment(Lane lane, long end, long sentAt, long[] sequences)
    {
        private readonly bool[] _acked = new bool[sequences.Length];
        private int _first;

        public Lane Lane { get; } = lane;

        public long End { get; } = end;

        public long SentAt { get; } = sentAt;

        public int Pending { get; private set; } = sequences.Length;

        /// <summary>Sequence of the first record of this segment not yet acknowledged.</summary>
        public long FirstUnacked => _first < sequences.Length ? sequences[_first] : End + 1;

        public void Ack(int index)
        {
            if (_acked[index])
            {
                return;
            }

            _acked[index] = true;
            Pending--;
            while (_first < sequences.Length && _acked[_first])
            {
                _first++;
            }
        }
    }
}
