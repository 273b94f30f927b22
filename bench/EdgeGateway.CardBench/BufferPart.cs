using System.Diagnostics;
using System.Globalization;
using EdgeGateway.Buffer;
using LiteDB;
using static EdgeGateway.CardBench.Proc;

namespace EdgeGateway.CardBench;

/// <summary>RecordBuffer (SQLite) against LiteDB 5: append cost and commit p99, file sizes, kill -9, fsyncs per commit.</summary>
internal static class BufferPart
{
    public static async Task RunAsync(Options o, ResultTable table)
    {
        var root = Directory.CreateTempSubdirectory("card-bench-buffer-").FullName;
        try
        {
            await AppendAsync(o, table, root).ConfigureAwait(false);
            await FsyncAsync(o, table, root).ConfigureAwait(false);
            await SizeAsync(o, table, root).ConfigureAwait(false);
            await KillAsync(o, table, root).ConfigureAwait(false);
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    private static async Task AppendAsync(Options o, ResultTable table, string root)
    {
        var warm = Math.Min(o.AppendRecords / 4, 50_000);
        var ours = await RunChildAsync(Self(["buf-append", "ours", Path.Combine(root, "append-ours"), N(o.AppendRecords), N(warm)])).ConfigureAwait(false);
        Console.WriteLine($"# buffer append ours: {string.Join(' ', ours.Select(kv => $"{kv.Key}={kv.Value}"))}");
        var lite = await RunChildAsync(Self(["buf-append", "litedb", Path.Combine(root, "append-litedb"), N(o.AppendRecords), N(warm)])).ConfigureAwait(false);
        Console.WriteLine($"# buffer append litedb: {string.Join(' ', lite.Select(kv => $"{kv.Key}={kv.Value}"))}");
        table.Add("Buffer", Inv($"append 200 B records, per CPU-second ({o.AppendRecords:N0} records, own process)"),
            Inv($"{ours.D("percpu"):N0} records/CPU-s ({ours.D("rate"):N0}/s wall)"), Inv($"{lite.D("percpu"):N0} records/CPU-s ({lite.D("rate"):N0}/s wall)"),
            Inv($"LiteDB needs {ours.D("percpu") / lite.D("percpu"):0.0}× the CPU per record; ours at NORMAL (telemetry)"));
        table.Add("Buffer", Inv($"commit p99 (max), batches of ≤ {BufferChildren.BatchSize}"),
            Inv($"{ours.D("p99ms"):0.0} ms ({ours.D("maxms"):0.0} ms, {ours["commits"]} commits)"), Inv($"{lite.D("p99ms"):0.0} ms ({lite.D("maxms"):0.0} ms, {lite["commits"]} commits)"),
            "ours: the writer's commit histogram; LiteDB: one InsertBulk transaction");
    }

    private static async Task FsyncAsync(Options o, ResultTable table, string root)
    {
        var strace = FindOnPath("strace");
        if (strace.Length == 0)
        {
            table.Add("Buffer", "fsync+fdatasync per commit", "strace not installed", "strace not installed", "apt-get install -y strace");
            return;
        }

        var cells = new Dictionary<string, string>();
        foreach (var impl in new[] { "ours", "ours-full", "litedb" })
        {
            try
            {
                // Open + close alone (0 records) is the baseline; the difference is what the commits cost.
                var baseline = await StraceAppendAsync(strace, root, impl, 0).ConfigureAwait(false);
                var (syncs, commits) = await StraceAppendAsync(strace, root, impl, o.StraceRecords).ConfigureAwait(false);
                var net = syncs - baseline.Syncs;
                cells[impl] = Inv($"{net / Math.Max(1, commits):0.00} ({syncs} syncs - {baseline.Syncs} for open+close, {commits:0} commits)");
            }
            catch (InvalidOperationException ex)
            {
                // An strace without --seccomp-bpf (older than 5.3) or a ptrace-less container: say so, keep the rest of the run.
                Console.WriteLine($"# fsync count under strace failed for {impl}: {ex.Message}");
                cells[impl] = "strace run failed (see log)";
            }
        }

        table.Add("Buffer", Inv($"fsync+fdatasync per commit (strace -f -c, {o.StraceRecords:N0} records)"), $"NORMAL {cells["ours"]}; FULL {cells["ours-full"]}", cells["litedb"],
            "ours: NORMAL syncs at WAL checkpoints only (telemetry), FULL on every commit (events, commands)");
    }

    private static async Task<(long Syncs, double Commits)> StraceAppendAsync(string strace, string root, string impl, int records)
    {
        var log = Path.Combine(root, $"strace-{impl}-{records}.txt");
        var dir = Path.Combine(root, $"fsync-{impl}-{records}");
        var r = await RunChildAsync(Self(["buf-append", impl, dir, N(records), "0"], strace,
            ["-f", "--seccomp-bpf", "-c", "-e", "trace=fsync,fdatasync", "-o", log])).ConfigureAwait(false);
        Directory.Delete(dir, true);
        return (ParseStraceCalls(await File.ReadAllTextAsync(log).ConfigureAwait(false)), r.D("commits"));
    }

    internal static long ParseStraceCalls(string summary)
    {
        // "% time     seconds  usecs/call     calls    errors syscall": calls is the 4th column.
        long total = 0;
        foreach (var line in summary.Split('\n'))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length >= 5 && f[^1] is "fsync" or "fdatasync")
            {
                total += long.Parse(f[3], CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    private static async Task SizeAsync(Options o, ResultTable table, string root)
    {
        var ours = await RunChildAsync(Self(["buf-size", "ours", Path.Combine(root, "size-ours"), N(o.SizeRecords)])).ConfigureAwait(false);
        Console.WriteLine($"# buffer size ours: {string.Join(' ', ours.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Directory.Delete(Path.Combine(root, "size-ours"), true);
        var lite = await RunChildAsync(Self(["buf-size", "litedb", Path.Combine(root, "size-litedb"), N(o.SizeRecords)])).ConfigureAwait(false);
        Console.WriteLine($"# buffer size litedb: {string.Join(' ', lite.Select(kv => $"{kv.Key}={kv.Value}"))}");
        Directory.Delete(Path.Combine(root, "size-litedb"), true);
        var deleted = o.SizeRecords - (o.SizeRecords / 10);
        table.Add("Buffer", Inv($"files after {o.SizeRecords:N0} records"), Mb(ours.D("filled")), Mb(lite.D("filled")), Inv($"LiteDB {lite.D("filled") / ours.D("filled"):0.0}× larger"));
        table.Add("Buffer", Inv($"files after deleting the oldest {deleted:N0}"),
            Inv($"{Mb(ours.D("afterdelete"))} (eviction took {ours["evicted"]} records + incremental vacuum, {ours.D("deletes"):0.0} s)"),
            Inv($"{Mb(lite.D("afterdelete"))} (DeleteMany + Checkpoint, {lite.D("deletes"):0.0} s)"), "ours returns freed pages at once (auto_vacuum=INCREMENTAL)");
        table.Add("Buffer", "files after LiteDB Rebuild() / our vacuum", Mb(ours.D("aftercompact")),
            lite["rebuild"] == "ok" ? Mb(lite.D("aftercompact")) : $"{Mb(lite.D("aftercompact"))}; Rebuild {lite["rebuild"]}", "ours: the eviction already vacuumed");
        table.Add("Buffer", "peak RSS of the process (after fill → end)", $"{Mb(ours.D("hwmfill"))} → {Mb(ours.D("hwm"))}", $"{Mb(lite.D("hwmfill"))} → {Mb(lite.D("hwm"))}", "VmHWM; the rise after fill is the delete/compaction");
    }

    private static async Task KillAsync(Options o, ResultTable table, string root)
    {
        var rng = new Random(o.Seed);
        var cells = new Dictionary<string, string>();
        foreach (var impl in new[] { "ours", "litedb" })
        {
            long lostTotal = 0, roundsLost = 0, reportedTotal = 0;
            var failures = new List<string>();
            for (var round = 0; round < o.KillRounds; round++)
            {
                var dir = Path.Combine(root, $"kill-{impl}-{round}");
                var delayMs = rng.Next(50, 1500);
                var (start, reported) = await RunAndKillAsync(impl, dir, delayMs).ConfigureAwait(false);
                long found;
                try
                {
                    found = impl == "litedb" ? CountLite(dir, reported) : CountOurs(dir, start, reported);
                }
                catch (Exception ex)
                {
                    failures.Add($"round {round}: reopen failed: {ex.GetType().Name}: {ex.Message}");
                    roundsLost++;
                    lostTotal += reported - start;
                    continue;
                }

                var lost = reported - start - found;
                reportedTotal += reported - start;
                Console.WriteLine(Inv($"# kill -9 {impl} round {round}: killed {delayMs} ms after the first commit, reported {reported - start}, found {found}, lost {lost}"));
                if (lost > 0)
                {
                    roundsLost++;
                    lostTotal += lost;
                }

                Directory.Delete(dir, true);
            }

            foreach (var f in failures)
            {
                Console.WriteLine($"# kill -9 {impl}: {f}");
            }

            cells[impl] = Inv($"{lostTotal} lost in {roundsLost}/{o.KillRounds} rounds ({reportedTotal:N0} reported){(failures.Count > 0 ? $", {failures.Count} failed to reopen" : "")}");
        }

        table.Add("Buffer", Inv($"kill -9 while appending: reported commits lost (seed {o.Seed})"), cells["ours"], cells["litedb"],
            "child appends and prints each commit; killed at a seeded random point; reopened and counted");
    }

    private static async Task<(long Start, long Reported)> RunAndKillAsync(string impl, string dir, int delayMs)
    {
        using var p = Process.Start(Self(["buf-crash", impl, dir]))!;
        p.StandardInput.Close();
        long start = -1, reported = -1;
        var firstCommit = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var reader = Task.Run(async () =>
        {
            while (await p.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
            {
                var parts = line.Split(' ');
                if (parts is ["START", var s])
                {
                    start = long.Parse(s, CultureInfo.InvariantCulture);
                }
                else if (parts is ["COMMITTED", var c])
                {
                    Volatile.Write(ref reported, long.Parse(c, CultureInfo.InvariantCulture));
                    firstCommit.TrySetResult();
                }
            }

            firstCommit.TrySetException(new InvalidOperationException($"buf-crash {impl} exited before its first commit"));
        });
        await firstCommit.Task.WaitAsync(TimeSpan.FromSeconds(60)).ConfigureAwait(false);
        await Task.Delay(delayMs).ConfigureAwait(false);
        p.Kill(); // SIGKILL
        await p.WaitForExitAsync().ConfigureAwait(false);
        await reader.ConfigureAwait(false);
        // Whatever the child printed before it died was "reported stored" to its caller.
        return (start, Volatile.Read(ref reported));
    }

    private static long CountOurs(string dir, long start, long reported)
    {
        var path = BufferChildren.Options(dir, Durability.Normal).DatabasePath;
        // Reopen as the gateway does (recovery, quick_check), then count what survived up to the reported watermark.
        using (RecordStore.Open(path, TimeSpan.FromSeconds(5), TimeProvider.System, out _))
        {
        }

        using var conn = RecordStore.OpenReader(path);
        return RecordStore.CountAfter(conn, start) - RecordStore.CountAfter(conn, reported);
    }

    private static long CountLite(string dir, long reported)
    {
        using var db = new LiteDatabase(new ConnectionString { Filename = Path.Combine(dir, "bench.db"), Connection = ConnectionType.Direct });
        return db.GetCollection("records").Count("$._id <= @0", new BsonValue(reported));
    }

    private static string N(int n) => n.ToString(CultureInfo.InvariantCulture);
}
