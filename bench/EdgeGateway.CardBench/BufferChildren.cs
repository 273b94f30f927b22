using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Records;
using LiteDB;
using Microsoft.Extensions.Logging.Abstractions;
using static EdgeGateway.CardBench.Proc;

namespace EdgeGateway.CardBench;

/// <summary>
/// The buffer measurements, each run as its own child process: "ours" is RecordBuffer on SQLite (telemetry
/// durability NORMAL, or FULL as events use), "litedb" is LiteDB 5 in Direct mode with one transaction
/// (<c>InsertBulk</c>) per batch of the same size our writer commits, documents carrying the same fields and a
/// secondary index on the stream as our table has. Each prints one "RESULT k=v …" line.
/// </summary>
internal static class BufferChildren
{
    public const int BatchSize = 1024; // BufferOptions.BatchSize's default
    private static readonly string[] Streams = [.. Enumerable.Range(0, 8).Select(i => $"drone/tello-{i}/state")];

    // ---- append: records per CPU-second and commit p99 ----
    public static async Task<int> AppendAsync(string[] args)
    {
        var (impl, dir, n, warmUp) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        if (impl == "litedb")
        {
            if (warmUp > 0)
            {
                using var warm = OpenLite(Path.Combine(dir, "warm.db"));
                LiteAppend(warm, 1, warmUp, null);
            }

            using var db = OpenLite(Path.Combine(dir, "bench.db"));
            var latencies = new List<double>();
            var cpu0 = Environment.CpuUsage.TotalTime;
            var sw = Stopwatch.StartNew();
            LiteAppend(db, 1, n, latencies);
            sw.Stop();
            Report(n, sw.Elapsed, Environment.CpuUsage.TotalTime - cpu0, latencies);
            return 0;
        }

        var durability = impl == "ours-full" ? Durability.Full : Durability.Normal;
        var commits = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == BufferMetrics.MeterName && i.Name == "edge_buffer_commit_duration_seconds")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, v, _, _) =>
        {
            lock (commits)
            {
                commits.Add(v);
            }
        });
        listener.Start();
        if (warmUp > 0)
        {
            await OursAppendAsync(Path.Combine(dir, "warm"), durability, warmUp).ConfigureAwait(false);
            lock (commits)
            {
                commits.Clear();
            }
        }

        var (elapsed, cpu) = await OursAppendAsync(Path.Combine(dir, "bench"), durability, n).ConfigureAwait(false);
        lock (commits)
        {
            Report(n, elapsed, cpu, commits);
        }

        return 0;
    }

    private static void Report(int n, TimeSpan elapsed, TimeSpan cpu, List<double> commitSeconds)
    {
        commitSeconds.Sort();
        var p99 = commitSeconds.Count == 0 ? 0 : commitSeconds[(int)Math.Min(commitSeconds.Count - 1, Math.Ceiling(commitSeconds.Count * 0.99) - 1)];
        Console.WriteLine(Inv($"RESULT rate={n / elapsed.TotalSeconds:0} percpu={n / cpu.TotalSeconds:0} p99ms={p99 * 1000:0.00} maxms={(commitSeconds.Count == 0 ? 0 : commitSeconds[^1] * 1000):0.00} commits={commitSeconds.Count}"));
    }

    private static async Task<(TimeSpan Elapsed, TimeSpan Cpu)> OursAppendAsync(string dir, Durability durability, int n)
    {
        await using var buffer = new RecordBuffer(Options(dir, durability), TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        var payload = Payload(1);
        var start = buffer.CommittedSequence;
        var cpu0 = Environment.CpuUsage.TotalTime;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            // Pace on the committed watermark so nothing is dropped at the intake: every record is stored.
            if ((i & 1023) == 0 && i - (buffer.CommittedSequence - start) > 200_000)
            {
                await buffer.WaitForCommittedAsync(start + i - 100_000).ConfigureAwait(false);
            }

            buffer.TryWrite(new TelemetryRecord(Streams[i & 7], RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp, Stopwatch.GetTimestamp(), payload));
        }

        await buffer.WaitForCommittedAsync(start + n - buffer.IntakeDropped).ConfigureAwait(false);
        sw.Stop();
        var cpu = Environment.CpuUsage.TotalTime - cpu0;
        return buffer.IntakeDropped == 0 ? (sw.Elapsed, cpu) : throw new InvalidOperationException($"{buffer.IntakeDropped} records dropped at the intake");
    }

    // ---- size: file after N records, after deleting 90 %, after LiteDB Rebuild ----
    public static async Task<int> SizeAsync(string[] args)
    {
        var (impl, dir, n) = (args[0], args[1], int.Parse(args[2], CultureInfo.InvariantCulture));
        Directory.CreateDirectory(dir);
        var keep = n / 10;
        var sw = Stopwatch.StartNew();
        if (impl == "litedb")
        {
            string rebuilt;
            long afterDelete, afterRebuild, filled;
            double deleteSeconds;
            long hwmFill;
            var path = Path.Combine(dir, "bench.db");
            using (var db = OpenLite(path))
            {
                LiteAppend(db, 1, n, null);
                db.Checkpoint();
                filled = DirBytes(dir);
                hwmFill = PeakRss();
                sw.Restart();
                var deleted = db.GetCollection("records").DeleteMany("$._id <= @0", new BsonValue((long)(n - keep)));
                db.Checkpoint();
                deleteSeconds = sw.Elapsed.TotalSeconds;
                afterDelete = DirBytes(dir);
                if (deleted != n - keep)
                {
                    throw new InvalidOperationException($"LiteDB deleted {deleted}, expected {n - keep}");
                }

                try
                {
                    db.Rebuild();
                    db.Checkpoint();
                    rebuilt = "ok";
                }
                catch (Exception ex)
                {
                    rebuilt = $"failed:{ex.GetType().Name}:{ex.Message}";
                }
            }

            afterRebuild = DirBytes(dir);
            Console.WriteLine(Inv($"RESULT filled={filled} afterdelete={afterDelete} aftercompact={afterRebuild} deletes={deleteSeconds:0.0} hwmfill={hwmFill} hwm={PeakRss()} rebuild={rebuilt.Replace(' ', '_').Replace('=', ':')}"));
            return 0;
        }

        var options = Options(Path.Combine(dir, "ours"), Durability.Normal);
        await using (var buffer = new RecordBuffer(options, TimeProvider.System, NullLogger<RecordBuffer>.Instance))
        {
            buffer.Start();
            var payload = Payload(1);
            var start = buffer.CommittedSequence;
            for (var i = 0; i < n; i++)
            {
                if ((i & 1023) == 0 && i - (buffer.CommittedSequence - start) > 200_000)
                {
                    await buffer.WaitForCommittedAsync(start + i - 100_000).ConfigureAwait(false);
                }

                buffer.TryWrite(new TelemetryRecord(Streams[i & 7], RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp, Stopwatch.GetTimestamp(), payload));
            }

            await buffer.WaitForCommittedAsync(start + n).ConfigureAwait(false);
            await buffer.StopAsync().ConfigureAwait(false);
        }

        var filledOurs = DirBytes(options.DataDirectory);
        var hwmFillOurs = PeakRss();
        using var store = RecordStore.Open(options.DatabasePath, TimeSpan.FromSeconds(5), TimeProvider.System, out _);
        sw.Restart();
        // The buffer's own eviction path (oldest first, a gap record per stream, then incremental vacuum and a
        // WAL truncate). It frees by its row estimate (payload + 40 B), so ask for exactly n - keep rows' worth.
        var rowBytes = Payload(1).Length + 40;
        store.Evict(((long)(n - keep) * rowBytes) - 1, null, EvictionReason.Budget, DateTimeOffset.UtcNow, out var evicted);
        store.Compact();
        var deleteSecondsOurs = sw.Elapsed.TotalSeconds;
        var afterDeleteOurs = DirBytes(options.DataDirectory);
        Console.WriteLine(Inv($"RESULT filled={filledOurs} afterdelete={afterDeleteOurs} aftercompact={afterDeleteOurs} deletes={deleteSecondsOurs:0.0} hwmfill={hwmFillOurs} hwm={PeakRss()} evicted={evicted}"));
        return 0;
    }

    // ---- crash: append until killed, printing every committed watermark ----
    public static async Task<int> CrashAsync(string[] args)
    {
        var (impl, dir) = (args[0], args[1]);
        Directory.CreateDirectory(dir);
        var stdout = Console.Out;
        if (impl == "litedb")
        {
            using var db = OpenLite(Path.Combine(dir, "bench.db"));
            stdout.WriteLine("START 0");
            stdout.Flush();
            long next = 1;
            while (true)
            {
                LiteAppend(db, next, 512, null);
                next += 512;
                stdout.WriteLine($"COMMITTED {(next - 1).ToString(CultureInfo.InvariantCulture)}");
                stdout.Flush();
            }
        }

        var options = Options(dir, Durability.Normal, intake: 65536);
        options.BatchSize = 512;
        options.BatchInterval = TimeSpan.FromMilliseconds(5);
        var buffer = new RecordBuffer(options, TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        var start = buffer.CommittedSequence;
        stdout.WriteLine($"START {start.ToString(CultureInfo.InvariantCulture)}");
        stdout.Flush();
        var reported = start;
        _ = Task.Run(async () =>
        {
            while (true)
            {
                await buffer.WaitForCommittedAsync(reported + 1).ConfigureAwait(false);
                reported = buffer.CommittedSequence;
                stdout.WriteLine($"COMMITTED {reported.ToString(CultureInfo.InvariantCulture)}");
                stdout.Flush();
            }
        });
        long n = 0;
        var payload = Payload(0);
        while (true)
        {
            while (n - (buffer.CommittedSequence - start) > 20_000)
            {
                await Task.Delay(1).ConfigureAwait(false);
            }

            buffer.TryWrite(new TelemetryRecord("crash/test", RecordKind.SensorReading, DateTimeOffset.UtcNow, TimeSource.Unsynced, Stopwatch.GetTimestamp(), payload));
            if ((++n & 255) == 0)
            {
                await Task.Yield();
            }
        }
    }

    // ---- shared ----
    internal static BufferOptions Options(string dir, Durability durability, int intake = 1 << 20) => new()
    {
        DataDirectory = dir,
        MaxBytes = 8L * 1024 * 1024 * 1024,
        MinFreeDiskBytes = 0,
        IntakeCapacity = intake,
        Durability = new()
        {
            [RecordKind.DroneState] = durability,
            [RecordKind.SensorReading] = durability,
            [RecordKind.Event] = Durability.Full,
            [RecordKind.CommandAudit] = Durability.Full,
            [RecordKind.Gap] = Durability.Full,
        },
    };

    internal static LiteDatabase OpenLite(string path)
    {
        var db = new LiteDatabase(new ConnectionString { Filename = path, Connection = ConnectionType.Direct });
        db.GetCollection("records").EnsureIndex("stream");
        return db;
    }

    /// <summary>Inserts <paramref name="n"/> records with ids from <paramref name="first"/>, one transaction per <see cref="BatchSize"/>.</summary>
    internal static void LiteAppend(LiteDatabase db, long first, int n, List<double>? commitSeconds)
    {
        var col = db.GetCollection("records");
        var payload = Payload(1);
        var batch = new List<BsonDocument>(BatchSize);
        for (var i = 0; i < n;)
        {
            batch.Clear();
            for (var j = 0; j < BatchSize && i < n; j++, i++)
            {
                var seq = first + i;
                batch.Add(new BsonDocument
                {
                    ["_id"] = seq,
                    ["stream"] = Streams[seq & 7],
                    ["kind"] = (int)RecordKind.DroneState,
                    ["wall_us"] = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000,
                    ["time_source"] = (int)TimeSource.Ntp,
                    ["mono"] = Stopwatch.GetTimestamp(),
                    ["payload"] = payload,
                });
            }

            var t0 = Stopwatch.GetTimestamp();
            col.InsertBulk(batch, batch.Count);
            commitSeconds?.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
    }

    internal static byte[] Payload(long n)
    {
        // 200 bytes of JSON, like a Tello state record (the same record bench/EdgeGateway.Buffer.Bench writes).
        var sb = new StringBuilder($"{{\"n\":{n},\"pitch\":0,\"roll\":0,\"yaw\":12,\"vgx\":0,\"vgy\":0,\"vgz\":0,\"templ\":60,\"temph\":62,\"tof\":10,\"h\":0,\"bat\":87,\"baro\":1.25,\"time\":0,\"agx\":1.0,\"agy\":2.0,\"agz\":-999.0,\"pad\":\"");
        while (sb.Length < 198)
        {
            sb.Append('x');
        }

        return Encoding.UTF8.GetBytes(sb.Append("\"}").ToString());
    }
}
