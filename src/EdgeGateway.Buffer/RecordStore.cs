using System.Globalization;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace EdgeGateway.Buffer;

/// <summary>Why records left the store; the tag on the eviction counter and the reason in gap records.</summary>
public enum EvictionReason
{
    Expired = 0,
    Budget = 1,
    MinFreeDisk = 2,
    DiskFull = 3,
    IntakeFull = 4,
    StoreFailed = 5,
}

/// <summary>Records of one stream that were dropped, as reported in a gap record.</summary>
internal sealed record GapInfo(string Stream, long? FromSequence, long? ToSequence, long Count, EvictionReason Reason);

internal enum StoreWriteStatus
{
    Committed = 0,
    Full = 1,
    Failed = 2,
}

/// <summary>What <see cref="RecordStore.Open"/> found.</summary>
internal sealed record StoreOpenReport(string? QuarantinedTo, string? QuarantineReason, bool IntegrityCheckCompleted, TimeSpan OpenDuration);

/// <summary>
/// The SQLite file: schema, the single writer connection with its prepared statements, eviction,
/// and read helpers for other connections. Only the buffer's writer task calls the write methods.
/// </summary>
internal sealed class RecordStore : IDisposable
{
    internal const int TelemetryKindsMax = (int)RecordKind.SensorReading;
    private const int RowOverheadBytes = 40;

    private readonly string _path;
    private readonly Dictionary<string, long> _streamIds = new(StringComparer.Ordinal);
    private readonly Dictionary<long, string> _streamNames = [];
    private SqliteConnection _conn = null!;
    // The hot insert goes straight to SQLite (bind by index, bind the payload span, step, reset): the
    // ADO.NET command costs several microseconds per row in name lookups, readers and handle ref-counting.
    private sqlite3_stmt? _insert;
    private SqliteCommand _insertStream = null!;
    private SqliteCommand _setMeta = null!;
    private SqliteCommand _setCursor = null!;
    private Durability _currentSync;
    private long _pageSize;
    private long _walCheckpointFrames = long.MaxValue;
    private long _walFramesLeft;
    private bool _streamCacheStale;

    private RecordStore(string path)
    {
        _path = path;
    }

    public string Path => _path;

    public long LastSequence { get; private set; }

    public static string ConnectionString(string path, bool readOnly)
        => new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = readOnly,
            DefaultTimeout = 30,
        }.ToString();

    /// <summary>
    /// Opens (or creates) the store. A file that SQLite cannot read as a database, or that fails the
    /// bounded integrity check, is renamed aside with a UTC time stamp and a fresh store is created.
    /// </summary>
    public static RecordStore Open(string path, TimeSpan integrityCheckTimeout, TimeProvider time, out StoreOpenReport report, long floorSequence = 0)
    {
        var started = time.GetTimestamp();
        PrivateFiles.EnsureDirectory(System.IO.Path.GetDirectoryName(path)!);
        var store = new RecordStore(path);
        string? movedTo = null;
        string? reason = null;
        long recoveredSeq = 0;
        bool checkCompleted;
        try
        {
            checkCompleted = store.OpenCore(integrityCheckTimeout, floorSequence);
        }
        catch (Exception ex) when (ex is StoreCorruptException || (ex is SqliteException se && IsCorruption(se)))
        {
            store.CloseConnection();
            reason = ex.Message;
            recoveredSeq = Math.Max(floorSequence, TryRecoverLastSequence(path));
            movedTo = Quarantine(path, time);
            store = new RecordStore(path);
            checkCompleted = store.OpenCore(integrityCheckTimeout, floorSequence: recoveredSeq);
        }

        report = new StoreOpenReport(movedTo, reason, checkCompleted, time.GetElapsedTime(started));
        return store;
    }

    internal static bool IsCorruption(SqliteException ex) => ex.SqliteErrorCode is 11 /* CORRUPT */ or 26 /* NOTADB */;

    private bool OpenCore(TimeSpan integrityCheckTimeout, long floorSequence)
    {
        var isNew = !File.Exists(_path) || new FileInfo(_path).Length == 0;
        PrivateFiles.EnsureDatabaseFiles(_path);
        _conn = new SqliteConnection(ConnectionString(_path, readOnly: false));
        _conn.Open();
        if (isNew)
        {
            // Must precede the first table so freed pages can be returned to the file system.
            Exec("PRAGMA auto_vacuum=INCREMENTAL;");
        }

        var mode = Scalar("PRAGMA journal_mode=WAL;") as string;
        if (!string.Equals(mode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new StoreCorruptException($"journal_mode WAL refused (got {mode})");
        }

        PrivateFiles.EnsureDatabaseFiles(_path); // the -wal and -shm that WAL mode just created
        var checkCompleted = isNew || QuickCheck(integrityCheckTimeout);
        Exec("""
            PRAGMA synchronous=NORMAL;
            PRAGMA temp_store=MEMORY;
            PRAGMA cache_size=-4096;
            CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS streams(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
            CREATE TABLE IF NOT EXISTS records(seq INTEGER PRIMARY KEY, stream_id INTEGER NOT NULL, kind INTEGER NOT NULL,
                wall_us INTEGER NOT NULL, time_source INTEGER NOT NULL, mono INTEGER NOT NULL, payload BLOB NOT NULL);
            CREATE INDEX IF NOT EXISTS records_by_stream ON records(stream_id);
            CREATE TABLE IF NOT EXISTS cursors(sink TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
            """);
        _currentSync = Durability.Normal;
        _pageSize = Convert.ToInt64(Scalar("PRAGMA page_size;"), CultureInfo.InvariantCulture);

        var metaSeq = Scalar("SELECT value FROM meta WHERE key='last_seq';") is long m ? m : 0;
        var maxSeq = Scalar("SELECT max(seq) FROM records;") is long x ? x : 0;
        var last = Math.Max(metaSeq, maxSeq);
        if (last == 0)
        {
            // A new store continues above anything a lost store could have issued: sequences start at the
            // wall clock in microseconds (or above the sequence recovered from a quarantined file).
            last = Math.Max(floorSequence, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000);
        }

        LastSequence = Math.Max(last, floorSequence);

        using (var cmd = _conn.CreateCommand())
        {
            cmd.CommandText = "SELECT id, name FROM streams;";
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                _streamIds[r.GetString(1)] = r.GetInt64(0);
                _streamNames[r.GetInt64(0)] = r.GetString(1);
            }
        }

        Check(raw.sqlite3_prepare_v2(_conn.Handle, "INSERT INTO records(seq, stream_id, kind, wall_us, time_source, mono, payload) VALUES (?1,?2,?3,?4,?5,?6,?7);",
            out _insert));
        _insertStream = _conn.CreateCommand();
        _insertStream.CommandText = "INSERT INTO streams(name) VALUES ($n) RETURNING id;";
        _insertStream.Parameters.Add("$n", SqliteType.Text);
        _setMeta = _conn.CreateCommand();
        _setMeta.CommandText = "INSERT INTO meta(key, value) VALUES('last_seq', $v) ON CONFLICT(key) DO UPDATE SET value=excluded.value;";
        _setMeta.Parameters.Add("$v", SqliteType.Integer);
        _setMeta.Prepare();
        _setCursor = _conn.CreateCommand();
        _setCursor.CommandText = "INSERT INTO cursors(sink, seq) VALUES($s, $q) ON CONFLICT(sink) DO UPDATE SET seq=excluded.seq;";
        _setCursor.Parameters.Add("$s", SqliteType.Text);
        _setCursor.Parameters.Add("$q", SqliteType.Integer);
        _setCursor.Prepare();
        return checkCompleted;
    }

    /// <summary>Runs <c>PRAGMA quick_check</c> but interrupts it after the time budget (a big store stays ready fast).</summary>
    private bool QuickCheck(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero)
        {
            return false;
        }

        var handle = _conn.Handle!;
        using var timer = new Timer(_ => SQLitePCL.raw.sqlite3_interrupt(handle), null, timeout, Timeout.InfiniteTimeSpan);
        try
        {
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = "PRAGMA quick_check(5);";
            using var r = cmd.ExecuteReader();
            var problems = new List<string>();
            while (r.Read())
            {
                problems.Add(r.GetString(0));
            }

            if (problems is ["ok"])
            {
                return true;
            }

            throw new StoreCorruptException("quick_check: " + string.Join("; ", problems));
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 9 /* INTERRUPT */)
        {
            return false;
        }
        finally
        {
            timer.Change(Timeout.Infinite, Timeout.Infinite);
        }
    }

    private static long TryRecoverLastSequence(string path)
    {
        try
        {
            using var c = new SqliteConnection(ConnectionString(path, readOnly: true));
            c.Open();
            using var cmd = c.CreateCommand();
            cmd.CommandText = "SELECT max(v) FROM (SELECT value AS v FROM meta WHERE key='last_seq' UNION ALL SELECT max(seq) FROM records);";
            return cmd.ExecuteScalar() is long v ? v : 0;
        }
        catch (SqliteException)
        {
            return 0;
        }
    }

    /// <summary>Moves the file and its WAL/SHM aside as <c>NAME.corrupt-yyyyMMddTHHmmssZ</c>; never deletes.</summary>
    internal static string Quarantine(string path, TimeProvider time)
    {
        SqliteConnection.ClearAllPools();
        var stamp = time.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var target = $"{path}.corrupt-{stamp}";
        for (var i = 1; File.Exists(target); i++)
        {
            target = $"{path}.corrupt-{stamp}-{i}";
        }

        File.Move(path, target);
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            if (File.Exists(path + suffix))
            {
                File.Move(path + suffix, target + suffix);
            }
        }

        return target;
    }

    /// <summary>Inserts the batch in one transaction; assigns sequences only if it commits.</summary>
    public StoreWriteStatus Append(IReadOnlyList<TelemetryRecord> batch, Durability durability,
        IReadOnlyDictionary<string, long>? cursors, out long firstSequence, out SqliteException? error)
    {
        firstSequence = LastSequence + 1;
        error = null;
        var seq = LastSequence;
        try
        {
            SetSynchronous(durability);
            EnsureStreamCache();
            using (var tx = _conn.BeginTransaction())
            {
                _insertStream.Transaction = tx;
                _setMeta.Transaction = tx;
                _setCursor.Transaction = tx;
                foreach (var record in batch)
                {
                    InsertOne(++seq, record);
                }

                _setMeta.Parameters[0].Value = seq;
                _setMeta.ExecuteNonQuery();
                WriteCursors(cursors);
                tx.Commit();
            }

            LastSequence = seq;
            return StoreWriteStatus.Committed;
        }
        catch (SqliteException ex)
        {
            error = ex;
            // A rolled-back transaction may have taken stream ids that no longer exist. Reloaded on the next
            // use, not here: on a corrupt file the reload fails too, and the caller must still see this error.
            InvalidateStreamCache();
            return ex.SqliteErrorCode == 13 /* FULL */ ? StoreWriteStatus.Full : StoreWriteStatus.Failed;
        }
    }

    private void InsertOne(long seq, TelemetryRecord record)
    {
        var streamId = StreamId(record.Stream); // may run its own statement: before binding this one
        var s = _insert!;
        Check(raw.sqlite3_bind_int64(s, 1, seq));
        Check(raw.sqlite3_bind_int64(s, 2, streamId));
        Check(raw.sqlite3_bind_int(s, 3, (int)record.Kind));
        Check(raw.sqlite3_bind_int64(s, 4, ToMicros(record.WallClock)));
        Check(raw.sqlite3_bind_int(s, 5, (int)record.TimeSource));
        Check(raw.sqlite3_bind_int64(s, 6, record.MonotonicTimestamp));

        // SQLite copies the bytes (SQLITE_TRANSIENT), so the producer's buffer is not kept. An empty span
        // would bind NULL, which the NOT NULL column refuses: bind a zero-length blob instead.
        Check(record.Payload.IsEmpty ? raw.sqlite3_bind_zeroblob(s, 7, 0) : raw.sqlite3_bind_blob(s, 7, record.Payload.Span));
        var rc = raw.sqlite3_step(s);
        raw.sqlite3_reset(s);
        if (rc != raw.SQLITE_DONE)
        {
            SqliteException.ThrowExceptionForRC(rc, _conn.Handle);
        }
    }

    private void Check(int rc)
    {
        if (rc != raw.SQLITE_OK)
        {
            SqliteException.ThrowExceptionForRC(rc, _conn.Handle);
        }
    }

    private long StreamId(string stream)
    {
        if (_streamIds.TryGetValue(stream, out var id))
        {
            return id;
        }

        _insertStream.Parameters[0].Value = stream;
        id = (long)_insertStream.ExecuteScalar()!;
        _streamIds[stream] = id;
        _streamNames[id] = stream;
        return id;
    }

    private void InvalidateStreamCache()
    {
        _streamIds.Clear();
        _streamNames.Clear();
        _streamCacheStale = true;
    }

    private void EnsureStreamCache()
    {
        if (!_streamCacheStale)
        {
            return;
        }

        ReloadStreamCache();
        _streamCacheStale = false;
    }

    private void ReloadStreamCache()
    {
        _streamIds.Clear();
        _streamNames.Clear();
        using var cmd = _conn.CreateCommand();
        cmd.CommandText = "SELECT id, name FROM streams;";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            _streamIds[r.GetString(1)] = r.GetInt64(0);
            _streamNames[r.GetInt64(0)] = r.GetString(1);
        }
    }

    private void WriteCursors(IReadOnlyDictionary<string, long>? cursors)
    {
        if (cursors is null)
        {
            return;
        }

        foreach (var (sink, seq) in cursors)
        {
            _setCursor.Parameters[0].Value = sink;
            _setCursor.Parameters[1].Value = seq;
            _setCursor.ExecuteNonQuery();
        }
    }

    public void SaveCursors(IReadOnlyDictionary<string, long> cursors)
    {
        using var tx = _conn.BeginTransaction();
        _setCursor.Transaction = tx;
        WriteCursors(cursors);
        tx.Commit();
    }

    public Dictionary<string, long> LoadCursors()
    {
        var result = new Dictionary<string, long>(StringComparer.OrdinalIgnoreCase);
        using var cmd = _conn.CreateCommand();
        cmd.CommandText = "SELECT sink, seq FROM cursors;";
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            result[r.GetString(0)] = r.GetInt64(1);
        }

        return result;
    }

    private void SetSynchronous(Durability durability)
    {
        if (durability != _currentSync)
        {
            // Per connection and outside a transaction: the batch commits with this level. FULL also
            // syncs every earlier NORMAL frame in the WAL, so ordering of durability is preserved.
            Exec(durability == Durability.Full ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;");
            _currentSync = durability;
        }
    }

    /// <summary>Bytes of live pages (what the data needs, free pages excluded).</summary>
    public long UsedBytes()
    {
        var pages = Convert.ToInt64(Scalar("PRAGMA page_count;"), CultureInfo.InvariantCulture);
        var free = Convert.ToInt64(Scalar("PRAGMA freelist_count;"), CultureInfo.InvariantCulture);
        return (pages - free) * _pageSize;
    }

    /// <summary>Lowest stored sequence, or the next one to be assigned when the store is empty.</summary>
    public long OldestSequence() => Scalar("SELECT min(seq) FROM records;") is long v ? v : LastSequence + 1;

    /// <summary>Size of the WAL file (0 when there is none).</summary>
    public long WalBytes()
    {
        try
        {
            var wal = new FileInfo(_path + "-wal");
            return wal.Exists ? wal.Length : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public long FileBytes()
    {
        long size = 0;
        foreach (var f in new[] { _path, _path + "-wal" })
        {
            try
            {
                size += new FileInfo(f).Length;
            }
            catch (IOException)
            {
            }
        }

        return size;
    }

    /// <summary>
    /// Deletes records to free about <paramref name="bytesToFree"/> bytes (or all expired ones when
    /// <paramref name="expiredBefore"/> is given), telemetry first and events/commands/gaps only when no
    /// telemetry is left, and writes one gap record per affected stream in the same transaction.
    /// </summary>
    public List<GapInfo> Evict(long bytesToFree, DateTimeOffset? expiredBefore, EvictionReason reason, DateTimeOffset now, out long evicted)
    {
        evicted = 0;
        var gaps = new List<GapInfo>();
        var perStream = new Dictionary<long, (long From, long To, long Count)>();
        long hiTelemetry = 0;
        long hiAll = 0;
        long freed = 0;
        if (expiredBefore is { } cutoff)
        {
            var cutoffUs = ToMicros(cutoff);
            Scan(_ => true, row =>
            {
                if (row.WallUs >= cutoffUs)
                {
                    return false;
                }

                Add(row, ref hiAll);
                return true;
            });
        }
        else
        {
            Scan(kind => kind <= TelemetryKindsMax, row =>
            {
                Add(row, ref hiTelemetry);
                return freed < bytesToFree;
            });
            if (freed < bytesToFree)
            {
                // No telemetry left to give: events, commands and gaps go last, oldest first.
                Scan(kind => kind > TelemetryKindsMax, row =>
                {
                    Add(row, ref hiAll);
                    return freed < bytesToFree;
                });
            }
        }

        if (perStream.Count == 0)
        {
            return gaps;
        }

        EnsureStreamCache();
        SetSynchronous(Durability.Full);
        using var autocheckpoint = AutocheckpointScope();
        using (var tx = _conn.BeginTransaction())
        {
            using var del = _conn.CreateCommand();
            del.Transaction = tx;
            del.CommandText = $"DELETE FROM records WHERE (seq <= $ht AND kind <= {TelemetryKindsMax}) OR seq <= $ha;";
            del.Parameters.AddWithValue("$ht", hiTelemetry);
            del.Parameters.AddWithValue("$ha", hiAll);
            evicted = del.ExecuteNonQuery();
            _insertStream.Transaction = tx;
            _setMeta.Transaction = tx;
            var seq = LastSequence;
            foreach (var (streamId, g) in perStream)
            {
                var info = new GapInfo(_streamNames[streamId], g.From, g.To, g.Count, reason);
                gaps.Add(info);
                InsertOne(++seq, GapRecord(info, now));
            }

            _setMeta.Parameters[0].Value = seq;
            _setMeta.ExecuteNonQuery();
            tx.Commit();
            LastSequence = seq;
        }

        return gaps;

        void Add((long Seq, long StreamId, int Kind, long Bytes, long WallUs) row, ref long hi)
        {
            hi = Math.Max(hi, row.Seq);
            freed += row.Bytes + RowOverheadBytes;
            perStream[row.StreamId] = perStream.TryGetValue(row.StreamId, out var g)
                ? (Math.Min(g.From, row.Seq), Math.Max(g.To, row.Seq), g.Count + 1)
                : (row.Seq, row.Seq, 1);
        }
    }

    private void Scan(Func<int, bool> include, Func<(long Seq, long StreamId, int Kind, long Bytes, long WallUs), bool> take)
    {
        using var cmd = _conn.CreateCommand();
        cmd.CommandText = "SELECT seq, stream_id, kind, length(payload), wall_us FROM records WHERE seq > $a ORDER BY seq LIMIT 4096;";
        var after = cmd.Parameters.Add("$a", SqliteType.Integer);
        long last = 0;
        while (true)
        {
            after.Value = last;
            var any = false;
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                any = true;
                last = r.GetInt64(0);
                var kind = r.GetInt32(2);
                if (!include(kind))
                {
                    continue;
                }

                if (!take((last, r.GetInt64(1), kind, r.GetInt64(3), r.GetInt64(4))))
                {
                    return;
                }
            }

            if (!any)
            {
                return;
            }
        }
    }

    /// <summary>Returns free pages to the file system and truncates the WAL so the file shrinks now.</summary>
    public void Compact()
    {
        using (AutocheckpointScope())
        {
            Exec("PRAGMA incremental_vacuum;");
        }

        Exec("PRAGMA wal_checkpoint(TRUNCATE);");
        WalFramesWritten(reset: true);
        _walFramesLeft = 0;
    }

    /// <summary>
    /// Sets the WAL size at which <see cref="CheckpointDue"/> turns true. SQLite's own autocheckpoint is
    /// off: it would run inside COMMIT and hold back the batch's commit (and its watermark) by the whole
    /// checkpoint; the writer runs it right after publishing the commit instead, at the same WAL size.
    /// </summary>
    public void ConfigureWal(long walLimitBytes)
    {
        _walCheckpointFrames = Math.Max(16, walLimitBytes / _pageSize);
        Exec($"PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={walLimitBytes};");
        WalFramesWritten(reset: true);
    }

    /// <summary>
    /// SQLite's autocheckpoint for the eviction path only: the delete and the vacuum each write many frames,
    /// and a checkpoint at each of their commits keeps the WAL within its share until the final TRUNCATE.
    /// </summary>
    private AutocheckpointOff AutocheckpointScope()
    {
        raw.sqlite3_wal_autocheckpoint(_conn.Handle, (int)Math.Min(int.MaxValue, _walCheckpointFrames));
        return new AutocheckpointOff(_conn);
    }

    private readonly struct AutocheckpointOff(SqliteConnection conn) : IDisposable
    {
        public void Dispose() => raw.sqlite3_wal_autocheckpoint(conn.Handle, 0);
    }

    /// <summary>WAL frames this connection (the only writer) appended since the last reset.</summary>
    private long WalFramesWritten(bool reset)
    {
        Check(raw.sqlite3_db_status(_conn.Handle, raw.SQLITE_DBSTATUS_CACHE_WRITE, out var current, out _, reset ? 1 : 0));
        return current;
    }

    /// <summary>True when the WAL has grown to the checkpoint size since the last checkpoint.</summary>
    public bool CheckpointDue => _walFramesLeft + WalFramesWritten(reset: false) >= _walCheckpointFrames;

    /// <summary>
    /// A passive checkpoint (copies the WAL into the database and, at NORMAL, fsyncs both; never waits for
    /// readers). The next write restarts the WAL from its start once every frame is copied; frames a
    /// reader still needs stay and count towards the next checkpoint.
    /// </summary>
    public void Checkpoint()
    {
        WalFramesWritten(reset: true);
        var rc = raw.sqlite3_wal_checkpoint_v2(_conn.Handle, "main", raw.SQLITE_CHECKPOINT_PASSIVE, out var log, out var done);
        if (rc == raw.SQLITE_BUSY)
        {
            _walFramesLeft = Math.Max(0, log);
            return;
        }

        Check(rc);

        // Until every frame is copied the WAL cannot restart, so all of it still counts.
        _walFramesLeft = done < log ? log : 0;
    }

    internal void SetMaxPageCountForTests(long pages) => Exec($"PRAGMA max_page_count={pages};");

    /// <summary>The writer connection's <c>PRAGMA synchronous</c> (1 NORMAL, 2 FULL): the level the last batch committed with.</summary>
    internal long SynchronousForTests() => Convert.ToInt64(Scalar("PRAGMA synchronous;"), CultureInfo.InvariantCulture);

    public static TelemetryRecord GapRecord(GapInfo gap, DateTimeOffset now)
    {
        var reason = gap.Reason switch
        {
            EvictionReason.Expired => "expired",
            EvictionReason.Budget => "budget",
            EvictionReason.MinFreeDisk => "min_free_disk",
            EvictionReason.DiskFull => "disk_full",
            EvictionReason.IntakeFull => "intake_full",
            _ => "store_failed",
        };
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new GapPayload(gap.Stream, gap.FromSequence, gap.ToSequence, gap.Count, reason),
            BufferJson.Context.GapPayload);
        return new TelemetryRecord(gap.Stream, RecordKind.Gap, now, TimeSource.Unsynced, 0, json);
    }

    public static long ToMicros(DateTimeOffset t) => (t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromMicros(long us) => DateTimeOffset.UnixEpoch.AddTicks(us * 10);

    // ---- reads, on any connection ----

    public static SqliteConnection OpenReader(string path)
    {
        var c = new SqliteConnection(ConnectionString(path, readOnly: true));
        c.Open();
        return c;
    }

    public static List<BufferedRecord> ReadAfter(SqliteConnection conn, long after, long upTo, int limit, string? stream = null)
    {
        // No join with streams per row: a batch names a handful of streams, each looked up (and its string made) once
        // per call. Per call, not cached longer: an id means nothing once the database is recreated.
        using var cmd = conn.CreateCommand();
        cmd.CommandText = stream is null
            ? "SELECT seq, stream_id, kind, wall_us, time_source, mono, payload FROM records WHERE seq > $a AND seq <= $b ORDER BY seq LIMIT $n;"
            : "SELECT seq, stream_id, kind, wall_us, time_source, mono, payload FROM records WHERE stream_id = (SELECT id FROM streams WHERE name = $st) AND seq > $a AND seq <= $b ORDER BY seq LIMIT $n;";
        cmd.Parameters.AddWithValue("$a", after);
        cmd.Parameters.AddWithValue("$b", upTo);
        cmd.Parameters.AddWithValue("$n", limit);
        if (stream is not null)
        {
            cmd.Parameters.AddWithValue("$st", stream);
        }

        var list = new List<BufferedRecord>(Math.Min(limit, 1024));
        var names = new Dictionary<long, string>();
        SqliteCommand? nameOf = null;
        try
        {
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                var streamId = r.GetInt64(1);
                if (!names.TryGetValue(streamId, out var name))
                {
                    if (nameOf is null)
                    {
                        nameOf = conn.CreateCommand();
                        nameOf.CommandText = "SELECT name FROM streams WHERE id = $id;";
                        nameOf.Parameters.Add("$id", SqliteType.Integer);
                    }

                    nameOf.Parameters["$id"].Value = streamId;
                    // A record always has its stream row (inserted first, never deleted); the join skipped an orphan.
                    if (nameOf.ExecuteScalar() is not string found)
                    {
                        continue;
                    }

                    name = found;
                    names[streamId] = name;
                }

                list.Add(new BufferedRecord(r.GetInt64(0), name, (RecordKind)r.GetInt32(2), FromMicros(r.GetInt64(3)),
                    (TimeSource)r.GetInt32(4), r.GetInt64(5), (byte[])r.GetValue(6)));
            }
        }
        finally
        {
            nameOf?.Dispose();
        }

        return list;
    }

    public static long CountAfter(SqliteConnection conn, long after)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT count(*) FROM records WHERE seq > $a;";
        cmd.Parameters.AddWithValue("$a", after);
        return (long)cmd.ExecuteScalar()!;
    }

    public static (long? Sequence, DateTimeOffset? WallClock) FirstAfter(SqliteConnection conn, long after)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = "SELECT seq, wall_us FROM records WHERE seq > $a ORDER BY seq LIMIT 1;";
        cmd.Parameters.AddWithValue("$a", after);
        using var r = cmd.ExecuteReader();
        return r.Read() ? (r.GetInt64(0), FromMicros(r.GetInt64(1))) : (null, null);
    }

    private void Exec(string sql)
    {
        using var cmd = _conn.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var cmd = _conn.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    private void CloseConnection()
    {
        _insert?.Dispose(); // finalizes the statement before the connection closes
        _insert = null;
        _insertStream?.Dispose();
        _setMeta?.Dispose();
        _setCursor?.Dispose();
        _conn?.Dispose();
        SqliteConnection.ClearAllPools();
    }

    /// <summary>
    /// Closes the connection without the checkpoint <see cref="Dispose"/> runs: for a file about to be
    /// quarantined, whose WAL must not be copied into the damaged database (it is moved aside with it).
    /// </summary>
    public void CloseWithoutCheckpoint() => CloseConnection();

    internal bool StreamCacheStaleForTests => _streamCacheStale;

    public void Dispose()
    {
        try
        {
            if (_conn is not null && _conn.State == System.Data.ConnectionState.Open)
            {
                Exec("PRAGMA wal_checkpoint(PASSIVE);");
            }
        }
        catch (SqliteException)
        {
            // Best effort on the way out; the WAL is replayed on the next open.
        }

        CloseConnection();
    }
}

internal sealed class StoreCorruptException(string message) : Exception(message);

internal sealed record GapPayload(string Stream, long? FromSeq, long? ToSeq, long Count, string Reason);

internal sealed record StoreEventPayload(string Event, string Reason, string? MovedTo);
