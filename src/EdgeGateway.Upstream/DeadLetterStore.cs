using EdgeGateway.Buffer;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Upstream;

/// <summary>One record an upstream refused for good, as kept in the dead-letter table.</summary>
public sealed record DeadLetterEntry(
    long Id,
    string Sink,
    string Stream,
    long Sequence,
    RecordKind Kind,
    DateTimeOffset RecordTime,
    string Topic,
    string Reason,
    int ReasonCode,
    string Detail,
    DateTimeOffset DeadLetteredAt,
    byte[] Payload);

/// <summary>
/// The upstream's dead-letter table: a small SQLite file next to the buffer (<c>dead-letters.db</c>) holding every record
/// a sink skipped because the upstream refused it for good (v5 PUBACK ≥ 0x80, larger than the broker's Maximum Packet
/// Size, ...). The buffer evicts old records, so without this copy the payload would be gone. Bounded: above
/// <c>MaxRows</c> the oldest rows are deleted and counted in <see cref="Evicted"/>. Thread-safe; one connection, one lock
/// (dead letters are rare, so a lock beats a writer queue here).
/// </summary>
public sealed class DeadLetterStore : IDisposable
{
    public const string FileName = "dead-letters.db";

    private readonly Lock _gate = new();
    private readonly SqliteConnection _conn;
    private readonly TimeProvider _time;
    private readonly Dictionary<string, long> _perSink = new(StringComparer.Ordinal);
    private long _count;
    private long _evicted;
    private bool _disposed;

    /// <param name="configKey">The option that names the directory, quoted when it cannot be written.</param>
    public DeadLetterStore(string path, int maxRows, TimeProvider? time = null, ILogger? logger = null,
        string configKey = "Upstream:DeadLetters:Directory")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        Path = System.IO.Path.GetFullPath(path);
        MaxRows = maxRows;
        _time = time ?? TimeProvider.System;
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        try
        {
            PrivateFiles.EnsureDirectory(directory);
            try
            {
                _conn = Open();
            }
            catch (SqliteException e) when (e.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase)
            {
                // A damaged table must not keep the gateway down: keep the bad file for inspection and start afresh.
                var movedTo = MoveAside();
                (logger ?? NullLogger.Instance).LogDeadLetterStoreRecreated(Path, e.Message, movedTo);
                _conn = Open();
            }
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException
                                      || e is SqliteException { SqliteErrorCode: SqliteCantOpen or SqliteReadOnly or SqlitePerm })
        {
            throw new OptionsValidationFailedException(
                [$"{configKey}: cannot create or write the dead-letter table {Path} ({e.Message}); choose a writable directory"]);
        }
    }

    private const int SqlitePerm = 3;
    private const int SqliteReadOnly = 8;
    private const int SqliteCorrupt = 11;
    private const int SqliteCantOpen = 14;
    private const int SqliteNotADatabase = 26;

    private SqliteConnection Open()
    {
        PrivateFiles.EnsureDatabaseFiles(Path);
        var conn = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString());
        try
        {
            conn.Open();
            // FULL: the buffer may fsync a cursor already past a dead-lettered record; its row must be as durable (rare writes).
            Exec(conn, """
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                CREATE TABLE IF NOT EXISTS dead_letters(
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    sink TEXT NOT NULL,
                    stream TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    kind INTEGER NOT NULL,
                    record_time TEXT NOT NULL,
                    topic TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    reason_code INTEGER NOT NULL,
                    detail TEXT NOT NULL,
                    dead_lettered_at TEXT NOT NULL,
                    payload BLOB NOT NULL);
                CREATE INDEX IF NOT EXISTS dead_letters_sink ON dead_letters(sink, id);
                CREATE TABLE IF NOT EXISTS dead_letter_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
                """);
            PrivateFiles.EnsureDatabaseFiles(Path); // the -wal and -shm that WAL mode just created
            // Counts live in memory from here on (metrics and health read them on every scrape).
            _perSink.Clear();
            using (var cmd = conn.CreateCommand())
            {
                cmd.CommandText = "SELECT sink, COUNT(*) FROM dead_letters GROUP BY sink;";
                using var reader = cmd.ExecuteReader();
                while (reader.Read())
                {
                    _perSink[reader.GetString(0)] = reader.GetInt64(1);
                }
            }

            _count = _perSink.Values.Sum();
            _evicted = Scalar(conn, "SELECT value FROM dead_letter_meta WHERE key = 'evicted';") is long e ? e : 0;
            return conn;
        }
        catch
        {
            conn.Dispose();
            throw;
        }
    }

    private string MoveAside()
    {
        var stamp = _time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var target = $"{Path}.corrupt-{stamp}";
        for (var n = 1; File.Exists(target); n++)
        {
            target = $"{Path}.corrupt-{stamp}-{n}";
        }

        File.Move(Path, target);
        foreach (var suffix in new[] { "-wal", "-shm" })
        {
            // A journal that belongs to the bad file must not be replayed into the new one.
            if (File.Exists(Path + suffix))
            {
                File.Move(Path + suffix, target + suffix);
            }
        }

        return target;
    }

    /// <summary>Full path of the SQLite file.</summary>
    public string Path { get; }

    public int MaxRows { get; }

    /// <summary>Rows in the table now (all sinks).</summary>
    public long Count
    {
        get
        {
            lock (_gate)
            {
                return _count;
            }
        }
    }

    /// <summary>Rows deleted because the table was full (persisted across restarts).</summary>
    public long Evicted
    {
        get
        {
            lock (_gate)
            {
                return _evicted;
            }
        }
    }

    /// <summary>Stores the records of one refused message (one transaction) and evicts the oldest rows above <see cref="MaxRows"/>.</summary>
    public void Add(string sink, IReadOnlyList<BufferedRecord> records, string topic, string reason, int reasonCode, string detail)
    {
        var now = _time.GetUtcNow().ToString("O", System.Globalization.CultureInfo.InvariantCulture);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var tx = _conn.BeginTransaction();
            using (var insert = _conn.CreateCommand())
            {
                insert.Transaction = tx;
                insert.CommandText = """
                    INSERT INTO dead_letters(sink, stream, seq, kind, record_time, topic, reason, reason_code, detail, dead_lettered_at, payload)
                    VALUES ($sink, $stream, $seq, $kind, $time, $topic, $reason, $code, $detail, $at, $payload);
                    """;
                var pStream = insert.Parameters.Add("$stream", SqliteType.Text);
                var pSeq = insert.Parameters.Add("$seq", SqliteType.Integer);
                var pKind = insert.Parameters.Add("$kind", SqliteType.Integer);
                var pTime = insert.Parameters.Add("$time", SqliteType.Text);
                var pPayload = insert.Parameters.Add("$payload", SqliteType.Blob);
                insert.Parameters.AddWithValue("$sink", sink);
                insert.Parameters.AddWithValue("$topic", topic);
                insert.Parameters.AddWithValue("$reason", reason);
                insert.Parameters.AddWithValue("$code", reasonCode);
                insert.Parameters.AddWithValue("$detail", detail);
                insert.Parameters.AddWithValue("$at", now);
                foreach (var r in records)
                {
                    pStream.Value = r.Stream;
                    pSeq.Value = r.Sequence;
                    pKind.Value = (int)r.Kind;
                    pTime.Value = r.WallClock.ToString("O", System.Globalization.CultureInfo.InvariantCulture);
                    pPayload.Value = r.Payload.ToArray();
                    insert.ExecuteNonQuery();
                }
            }

            var count = _count + records.Count;
            var evicted = _evicted;
            Dictionary<string, long>? removed = null;
            if (count > MaxRows)
            {
                // Which sinks lose rows, so the in-memory per-sink counts stay true.
                removed = new Dictionary<string, long>(StringComparer.Ordinal);
                using (var which = _conn.CreateCommand())
                {
                    which.Transaction = tx;
                    which.CommandText = "SELECT sink, COUNT(*) FROM (SELECT sink FROM dead_letters ORDER BY id LIMIT $n) GROUP BY sink;";
                    which.Parameters.AddWithValue("$n", count - MaxRows);
                    using var reader = which.ExecuteReader();
                    while (reader.Read())
                    {
                        removed[reader.GetString(0)] = reader.GetInt64(1);
                    }
                }

                using var evict = _conn.CreateCommand();
                evict.Transaction = tx;
                evict.CommandText = """
                    DELETE FROM dead_letters WHERE id IN (SELECT id FROM dead_letters ORDER BY id LIMIT $n);
                    INSERT INTO dead_letter_meta(key, value) VALUES ('evicted', $total)
                        ON CONFLICT(key) DO UPDATE SET value = excluded.value;
                    """;
                evict.Parameters.AddWithValue("$n", count - MaxRows);
                evict.Parameters.AddWithValue("$total", evicted + (count - MaxRows));
                evict.ExecuteNonQuery();
                evicted += count - MaxRows;
                count = MaxRows;
            }

            tx.Commit();
            _count = count;
            _evicted = evicted;
            _perSink[sink] = _perSink.GetValueOrDefault(sink) + records.Count;
            if (removed is { Count: > 0 })
            {
                foreach (var (name, n) in removed)
                {
                    var left = _perSink.GetValueOrDefault(name) - n;
                    if (left > 0)
                    {
                        _perSink[name] = left;
                    }
                    else
                    {
                        _perSink.Remove(name);
                    }
                }
            }
        }
    }

    /// <summary>Rows of one sink (or all when <paramref name="sink"/> is null); from memory, no query.</summary>
    public long CountFor(string? sink)
    {
        lock (_gate)
        {
            return sink is null ? _count : _perSink.GetValueOrDefault(sink);
        }
    }

    /// <summary>Rows with an id above <paramref name="afterId"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public IReadOnlyList<DeadLetterEntry> Read(string? sink, long afterId, int limit)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var cmd = _conn.CreateCommand();
            cmd.CommandText = $"""
                SELECT id, sink, stream, seq, kind, record_time, topic, reason, reason_code, detail, dead_lettered_at, payload
                FROM dead_letters WHERE id > $after {(sink is null ? "" : "AND sink = $sink")} ORDER BY id LIMIT $limit;
                """;
            cmd.Parameters.AddWithValue("$after", afterId);
            cmd.Parameters.AddWithValue("$limit", limit);
            if (sink is not null)
            {
                cmd.Parameters.AddWithValue("$sink", sink);
            }

            var list = new List<DeadLetterEntry>();
            using var reader = cmd.ExecuteReader();
            while (reader.Read())
            {
                list.Add(new DeadLetterEntry(
                    reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), (RecordKind)reader.GetInt32(4),
                    DateTimeOffset.Parse(reader.GetString(5), System.Globalization.CultureInfo.InvariantCulture),
                    reader.GetString(6), reader.GetString(7), reader.GetInt32(8), reader.GetString(9),
                    DateTimeOffset.Parse(reader.GetString(10), System.Globalization.CultureInfo.InvariantCulture),
                    (byte[])reader.GetValue(11)));
            }

            return list;
        }
    }

    private static void Exec(SqliteConnection conn, string sql)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static object? Scalar(SqliteConnection conn, string sql)
    {
        using var cmd = conn.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _conn.Dispose();
        }
    }
}
