using System.Diagnostics;
using System.Text.Json;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class RecordBufferTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Write_completes_only_after_commit_with_a_sequence_at_or_below_the_watermark()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => buffer.WriteAsync(Kit.Rec("drone/t1/state", i)))).WithTimeout();
        Assert.All(results, r => Assert.Equal(CommitStatus.Committed, r.Status));
        Assert.All(results, r => Assert.True(r.Sequence <= buffer.CommittedSequence));
        var seqs = results.Select(r => r.Sequence).ToList();
        Assert.Equal(seqs.Distinct().Count(), seqs.Count);

        // A separate connection sees every reported record: "committed" means on the WAL, not in memory.
        using var conn = new SqliteConnection($"Data Source={buffer.DatabasePath};Mode=ReadOnly;Pooling=False");
        conn.Open();
        using var cmd = conn.CreateCommand();
        cmd.CommandText = $"SELECT count(*) FROM records WHERE seq IN ({string.Join(",", seqs)})";
        Assert.Equal(50L, (long)cmd.ExecuteScalar()!);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Sequences_continue_upward_after_a_restart_and_cursors_survive()
    {
        var options = Kit.Options(_dir.Path);
        long last;
        await using (var first = Kit.Buffer(options, _logs))
        {
            first.Start();
            for (var i = 0; i < 100; i++)
            {
                first.TryWrite(Kit.Rec("s", i));
            }

            last = (await first.WriteAsync(Kit.Rec("s", 100)).WithTimeout()).Sequence;
            first.SetCursor("mqtt", last - 10);
        }

        await using var second = Kit.Buffer(options, _logs);
        second.Start();
        Assert.Equal(last, second.CommittedSequence);
        Assert.Equal(last - 10, second.GetCursor("mqtt"));
        var next = await second.WriteAsync(Kit.Rec("s", 101)).WithTimeout();
        Assert.Equal(last + 1, next.Sequence);
        Assert.Equal(102, Kit.All(second).Count);
    }

    [Fact]
    public async Task Wall_clock_jumping_backwards_and_forwards_does_not_affect_order_by_sequence()
    {
        var time = new JumpingTimeProvider();
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs, time);
        buffer.Start();
        var sink = new ScriptedSink { AutoAck = true };
        await using var forwarder = new UpstreamForwarder(buffer, sink, new SinkForwardingOptions { BatchSize = 7 }, time, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        var jumps = new[] { TimeSpan.FromHours(-3), TimeSpan.FromDays(2), TimeSpan.FromDays(-3), TimeSpan.FromMinutes(5), TimeSpan.FromHours(-1) };
        var n = 0;
        var results = new List<CommitResult>();
        foreach (var jump in jumps)
        {
            for (var i = 0; i < 40; i++)
            {
                results.Add(await buffer.WriteAsync(Kit.Rec("drone/t1/state", n++, time: time)).WithTimeout());
            }

            time.Jump(jump);
        }

        var stored = Kit.All(buffer, "drone/t1/state");
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), stored.Select(Kit.N));
        Assert.True(stored.Zip(stored.Skip(1)).All(p => p.First.Sequence < p.Second.Sequence));
        Assert.Contains(stored.Zip(stored.Skip(1)), p => p.Second.WallClock < p.First.WallClock); // the clock did go back
        Assert.Equal(0, buffer.EvictedRecords);
        await TaskTimeouts.Eventually(() => forwarder.Cursor >= results[^1].Sequence, "forwarder delivers everything");
        Assert.Equal(Enumerable.Range(0, n).Select(i => (long)i), sink.Sent.Select(Kit.N));
    }

    [Fact]
    public async Task Full_intake_with_drop_oldest_keeps_the_newest_counts_the_drops_and_writes_a_gap_record()
    {
        using var dropped = new Kit.CounterProbe("edge_buffer_intake_dropped_records");
        var options = Kit.Options(_dir.Path, o => { o.IntakeCapacity = 16; o.IntakeFullPolicy = IntakeFullPolicy.DropOldest; });
        await using var buffer = Kit.Buffer(options, _logs);

        // Not started: nothing drains the intake, like a writer stuck on a slow disk.
        var sw = Stopwatch.StartNew();
        var victim = buffer.WriteAsync(Kit.Rec("drone/t1/state", -1));
        for (var i = 0; i < 100_000; i++)
        {
            Assert.True(buffer.TryWrite(Kit.Rec("drone/t1/state", i)));
        }

        sw.Stop();
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"producer was held up: {sw.Elapsed}");
        Assert.Equal(100_001 - 16, buffer.IntakeDropped);
        Assert.Equal(100_001 - 16, dropped.Total);
        Assert.Equal(CommitStatus.DroppedIntakeFull, (await victim.WithTimeout()).Status);

        buffer.Start();
        await TaskTimeouts.Eventually(() => Kit.All(buffer).Count == 17, "the 16 newest and one gap record are stored");
        var stored = Kit.All(buffer);
        Assert.Equal(Enumerable.Range(100_000 - 16, 16).Select(i => (long)i), stored.Where(r => r.Kind != RecordKind.Gap).Select(Kit.N));
        var gap = Assert.Single(stored, r => r.Kind == RecordKind.Gap);
        var payload = JsonDocument.Parse(gap.Payload).RootElement;
        Assert.Equal("intake_full", payload.GetProperty("reason").GetString());
        Assert.Equal(100_001 - 16, payload.GetProperty("count").GetInt64());
        Assert.Equal("drone/t1/state", payload.GetProperty("stream").GetString());
        _logs.AssertNoUnexpectedErrors();
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5002);
    }

    [Fact]
    public async Task Full_intake_with_drop_newest_keeps_the_oldest_and_counts_the_drops()
    {
        var options = Kit.Options(_dir.Path, o => { o.IntakeCapacity = 16; o.IntakeFullPolicy = IntakeFullPolicy.DropNewest; });
        await using var buffer = Kit.Buffer(options, _logs);
        for (var i = 0; i < 50; i++)
        {
            buffer.TryWrite(Kit.Rec("sensor/gps0", i, RecordKind.SensorReading));
        }

        Assert.Equal(34, buffer.IntakeDropped);
        buffer.Start();
        await TaskTimeouts.Eventually(() => Kit.All(buffer).Count == 17, "16 oldest and a gap record");
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), Kit.All(buffer).Where(r => r.Kind != RecordKind.Gap).Select(Kit.N));
    }

    [Fact]
    public async Task Garbage_database_file_is_quarantined_and_a_fresh_store_is_ready()
    {
        using var quarantined = new Kit.CounterProbe("edge_buffer_store_quarantined");
        var options = Kit.Options(_dir.Path);
        var garbage = new byte[64 * 1024];
        new Random(42).NextBytes(garbage);
        File.WriteAllBytes(options.DatabasePath, garbage);

        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();

        Assert.True(buffer.IsReady);
        Assert.NotNull(buffer.QuarantinedTo);
        Assert.Matches(@"buffer\.db\.corrupt-\d{8}T\d{6}Z$", buffer.QuarantinedTo);
        Assert.Equal(garbage, File.ReadAllBytes(buffer.QuarantinedTo!)); // moved, never deleted or touched
        Assert.Equal(1, quarantined.Total);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5001);
        var written = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, written.Status);
        var all = Kit.All(buffer);
        var evt = Assert.Single(all, r => r.Kind == RecordKind.Event);
        Assert.Equal(RecordBuffer.EventStream, evt.Stream);
        Assert.Equal("store_quarantined", JsonDocument.Parse(evt.Payload).RootElement.GetProperty("event").GetString());
        Assert.Contains(Health.HealthState.Degraded, buffer.Report().Select(h => h.State));
        _logs.AssertNoUnexpectedErrors(m => m.Contains("moved aside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Database_with_damaged_pages_fails_the_integrity_check_and_is_quarantined_with_sequences_above_the_old_ones()
    {
        var options = Kit.Options(_dir.Path);
        var last = await Kit.WriteStoreWithDamagedPagesAsync(options, _logs);

        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();
        Assert.True(buffer.IsReady);
        Assert.NotNull(buffer.QuarantinedTo);
        Assert.True(File.Exists(buffer.QuarantinedTo));
        var next = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout();
        Assert.True(next.Sequence > last, "a fresh store must not reuse sequences of the quarantined one");
        _logs.AssertNoUnexpectedErrors(m => m.Contains("moved aside", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Disk_full_is_handled_by_eviction_without_crashing_or_blocking_producers()
    {
        using var evicted = new Kit.CounterProbe("edge_buffer_records_evicted");
        var options = Kit.Options(_dir.Path, o => o.BatchSize = 64);
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.StoreOpenedForTests = store => store.SetMaxPageCountForTests(120); // ~480 KB: SQLITE_FULL long before the budget
        buffer.Start();
        var results = new List<Task<CommitResult>>();
        for (var i = 0; i < 6000; i++)
        {
            results.Add(buffer.WriteAsync(Kit.Rec("drone/t1/state", i, padding: 150)));
            if (i % 200 == 0)
            {
                await Task.Delay(5);
            }
        }

        var done = await Task.WhenAll(results).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.True(done.Count(r => r.Status == CommitStatus.Committed) > 5000, "most records commit after eviction made room");
        Assert.True(evicted["disk_full"] > 0);
        var last = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 99_999)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, last.Status);
        var gaps = Kit.All(buffer).Where(r => r.Kind == RecordKind.Gap).Select(r => JsonDocument.Parse(r.Payload).RootElement).ToList();
        Assert.Contains(gaps, g => g.GetProperty("reason").GetString() == "disk_full");
        _logs.AssertNoUnexpectedErrors(m => m.Contains("Disk full", StringComparison.Ordinal) || m.Contains("failed and they were dropped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Records_older_than_max_age_are_evicted_with_an_expired_gap_record()
    {
        var time = new JumpingTimeProvider();
        var options = Kit.Options(_dir.Path, o => o.MaxAge = TimeSpan.FromHours(1));
        await using var buffer = Kit.Buffer(options, _logs, time);
        buffer.Start();
        for (var i = 0; i < 10; i++)
        {
            await buffer.WriteAsync(Kit.Rec("sensor/gps0", i, RecordKind.SensorReading, time)).WithTimeout();
        }

        time.Jump(TimeSpan.FromHours(2));
        var fresh = await buffer.WriteAsync(Kit.Rec("sensor/gps0", 10, RecordKind.SensorReading, time)).WithTimeout();
        await TaskTimeouts.Eventually(() => buffer.EvictedRecords == 10, "old records expire on the maintenance tick");
        var all = Kit.All(buffer);
        Assert.Equal([10L], all.Where(r => r.Kind == RecordKind.SensorReading).Select(Kit.N));
        var gap = JsonDocument.Parse(Assert.Single(all, r => r.Kind == RecordKind.Gap).Payload).RootElement;
        Assert.Equal("expired", gap.GetProperty("reason").GetString());
        Assert.Equal(10, gap.GetProperty("count").GetInt64());
        Assert.True(fresh.Sequence > gap.GetProperty("to_seq").GetInt64());
    }
}
