using System.Text.Json;
using EdgeGateway.Records;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class BudgetTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Long_run_against_a_small_budget_stays_within_5_percent_and_every_eviction_is_a_gap_record()
    {
        const long budget = 2 * 1024 * 1024;
        var options = Kit.Options(_dir.Path, o => { o.MaxBytes = budget; o.BatchSize = 256; });
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();

        long maxSeen = 0;
        long maxWal = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxSeen = Math.Max(maxSeen, DiskBytes(options.DatabasePath));
                maxWal = Math.Max(maxWal, FileBytes(options.DatabasePath + "-wal"));
                await Task.Delay(2);
            }
        });

        var written = new List<(long Seq, string Stream)>();
        var streams = new[] { "drone/t1/state", "sensor/gps0", "sensor/imu0" };
        for (var round = 0; round < 60; round++)
        {
            var batch = new List<Task<CommitResult>>();
            for (var i = 0; i < 1000; i++)
            {
                var stream = streams[i % 3];
                var kind = stream.StartsWith("drone", StringComparison.Ordinal) ? RecordKind.DroneState : RecordKind.SensorReading;
                batch.Add(buffer.WriteAsync(Kit.Rec(stream, (round * 1000) + i, kind, padding: 150)));
            }

            if (round % 10 == 0)
            {
                await buffer.WriteAsync(Kit.Rec("gateway/events", round, RecordKind.Event)).WithTimeout();
            }

            var results = await Task.WhenAll(batch).WithTimeout();
            Assert.All(results, r => Assert.Equal(CommitStatus.Committed, r.Status));
            written.AddRange(results.Select((r, i) => (r.Sequence, streams[i % 3])));
            maxSeen = Math.Max(maxSeen, DiskBytes(options.DatabasePath));
        }

        await stop.CancelAsync();
        await sampler.WithTimeout();
        output.WriteLine($"max on disk {maxSeen} of budget {budget} (largest WAL seen {maxWal}); evicted {buffer.EvictedRecords}");
        Assert.True(buffer.EvictedRecords > 30_000, "the run must be long enough to evict most records");
        Assert.True(maxSeen <= budget * 1.05, $"store reached {maxSeen} bytes, budget {budget}");
        // The sampler can miss a short peak; the writer's own high-water mark (measured after every commit,
        // checkpoint and eviction step) cannot.
        output.WriteLine($"writer's high-water mark {buffer.MaxFileBytes}");
        Assert.InRange(buffer.MaxFileBytes, budget / 2, (long)(budget * 1.05));

        // A write completes at its commit, before the writer's budget check: stop the writer so that no
        // eviction lands between the pages read below (each page is its own snapshot).
        await buffer.StopAsync().WithTimeout();
        var all = Kit.All(buffer);
        var present = all.Where(r => r.Kind != RecordKind.Gap).Select(r => r.Sequence).ToHashSet();
        var gaps = all.Where(r => r.Kind == RecordKind.Gap).Select(r => JsonDocument.Parse(r.Payload).RootElement)
            .Select(g => (Stream: g.GetProperty("stream").GetString()!, From: g.GetProperty("from_seq").GetInt64(),
                To: g.GetProperty("to_seq").GetInt64(), Count: g.GetProperty("count").GetInt64(), Reason: g.GetProperty("reason").GetString()))
            .ToList();
        Assert.All(gaps, g => Assert.Equal("budget", g.Reason));
        var missing = written.Where(w => !present.Contains(w.Seq)).ToList();
        Assert.NotEmpty(missing);
        foreach (var (seq, stream) in missing)
        {
            Assert.Contains(gaps, g => g.Stream == stream && g.From <= seq && seq <= g.To);
        }

        Assert.Equal(missing.Count, gaps.Sum(g => g.Count));
        // Events go last: both event records survive while telemetry is evicted.
        Assert.Equal(6, all.Count(r => r.Kind == RecordKind.Event));
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Wal_is_checkpointed_after_commits_at_its_share_of_the_budget_and_records_stay_committed()
    {
        const long budget = 8L * 1024 * 1024; // WAL share: a tenth, 838860 bytes
        const long walShare = budget / 10;
        var options = Kit.Options(_dir.Path, o => { o.MaxBytes = budget; o.BatchSize = 256; });
        var checkpoints = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == BufferMetrics.MeterName && i.Name == "edge_buffer_checkpoint_duration_seconds")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref checkpoints));
        listener.Start();
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();

        long maxWal = 0;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                maxWal = Math.Max(maxWal, FileBytes(options.DatabasePath + "-wal"));
                await Task.Delay(2);
            }
        });

        var results = new List<Task<CommitResult>>();
        for (var i = 0; i < 12_000; i++)
        {
            results.Add(buffer.WriteAsync(Kit.Rec("drone/t1/state", i, padding: 200)));
            if (i % 500 == 0)
            {
                await Task.Delay(1);
            }
        }

        var done = await Task.WhenAll(results).WithTimeout(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        await sampler.WithTimeout();
        maxWal = Math.Max(maxWal, FileBytes(options.DatabasePath + "-wal"));
        output.WriteLine($"checkpoints {Volatile.Read(ref checkpoints)}, largest WAL seen {maxWal} bytes (share {walShare})");
        Assert.All(done, r => Assert.Equal(CommitStatus.Committed, r.Status));
        Assert.True(Volatile.Read(ref checkpoints) >= 2, "about 3 MB through a 0.8 MB WAL share needs several checkpoints");

        // SQLite's autocheckpoint is off; the writer's own checkpoint must still hold the WAL to its share plus one batch.
        Assert.True(maxWal <= walShare + (256 * 1024), $"WAL reached {maxWal} bytes, share {walShare}");
        Assert.Equal(Enumerable.Range(0, 12_000).Select(i => (long)i), Kit.All(buffer).Select(Kit.N));
        Assert.Equal(0, buffer.EvictedRecords);
        _logs.AssertNoUnexpectedErrors();
    }

    private static long FileBytes(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static long DiskBytes(string path)
    {
        long total = 0;
        foreach (var f in new[] { path, path + "-wal" })
        {
            try
            {
                total += new FileInfo(f).Length;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return total;
    }
}
