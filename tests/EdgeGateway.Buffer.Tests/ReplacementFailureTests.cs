using System.Diagnostics;
using System.Text;
using System.Text.Json;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

/// <summary>Failures inside the failure handling: a forwarder whose rewind fails, a replacement that fails, late reports.</summary>
public sealed class ReplacementFailureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private static SqliteException Malformed() => new("database disk image is malformed", 11);

    [Fact]
    public async Task Forwarder_whose_read_and_rewind_fail_with_corruption_keeps_running_reports_it_and_forwards_on_the_fresh_store()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var heartbeats = new LoopHeartbeatRegistry(TimeProvider.System);
        var sink = new ScriptedSink("uplink") { AutoAck = true };
        var options = new SinkForwardingOptions { MaxRecordsPerSecond = 0, RetryMinDelay = TimeSpan.FromMilliseconds(20), RetryMaxDelay = TimeSpan.FromMilliseconds(100) };
        var forwarder = new UpstreamForwarder(buffer, sink, options, TimeProvider.System, _logs.For<UpstreamForwarder>(), heartbeats);
        forwarder.Start();
        var first = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        await TaskTimeouts.Eventually(() => forwarder.Cursor == first.Sequence, "delivered before the fault");

        // Every read fails: the step's read, then the rewind's own read (FirstAfter) inside the error handler.
        var faults = 0;
        forwarder.ReadFaultForTests = () => Interlocked.Increment(ref faults) <= 6 ? Malformed() : null;
        await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout();
        await TaskTimeouts.Eventually(() => Volatile.Read(ref faults) > 6, "the forwarder keeps retrying after its rewind failed");

        // The corruption the forwarder saw reached the writer, which moved the store aside.
        await TaskTimeouts.Eventually(() => buffer.QuarantinedTo is not null, "the writer quarantines the store the forwarder found corrupt");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5011 && e.Message.Contains("forwarder uplink", StringComparison.Ordinal));
        var third = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 2)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, third.Status);
        await TaskTimeouts.Eventually(() => forwarder.Cursor >= third.Sequence, "forwarding continues on the fresh store");
        Assert.Contains(sink.Sent, r => r.Sequence == third.Sequence && Kit.N(r) == 2);
        Assert.Contains(heartbeats.Snapshot(), b => b.Name == "forwarder-uplink"); // the loop never ended

        await forwarder.DisposeAsync(); // stopping works and does not throw
        Assert.DoesNotContain(heartbeats.Snapshot(), b => b.Name == "forwarder-uplink");
        _logs.AssertNoUnexpectedErrors(m => m.Contains("loop error", StringComparison.Ordinal) || m.Contains("unreadable while running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Forwarder_whose_first_reads_fail_at_start_retries_instead_of_ending()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var first = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        var sink = new ScriptedSink("uplink") { AutoAck = true };
        var options = new SinkForwardingOptions { MaxRecordsPerSecond = 0, RetryMinDelay = TimeSpan.FromMilliseconds(20), RetryMaxDelay = TimeSpan.FromMilliseconds(100) };
        await using var forwarder = new UpstreamForwarder(buffer, sink, options, TimeProvider.System, _logs.For<UpstreamForwarder>());
        var faults = 0;
        forwarder.ReadFaultForTests = () => Interlocked.Increment(ref faults) <= 3 ? new SqliteException("disk I/O error", 10) : null;
        forwarder.Start();
        await TaskTimeouts.Eventually(() => forwarder.Cursor == first.Sequence, "delivered once the reads succeed again");
        Assert.Null(buffer.QuarantinedTo); // an I/O error is not corruption
        _logs.AssertNoUnexpectedErrors(m => m.Contains("loop error", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Replacement_that_fails_keeps_commits_failing_as_gaps_and_is_retried_until_it_succeeds()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var before = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        var refuse = 1;
        var attempts = 0;
        buffer.QuarantineFaultForTests = () =>
        {
            Interlocked.Increment(ref attempts);
            return Volatile.Read(ref refuse) == 1 ? new IOException("rename refused") : null;
        };
        var corrupt = 1;
        buffer.AppendFaultForTests = () => Interlocked.Exchange(ref corrupt, 0) == 1 ? Malformed() : null;

        var failed = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout();
        Assert.Equal(CommitStatus.StoreFailed, failed.Status);
        Assert.True(buffer.ReplacementPending);
        Assert.Null(buffer.QuarantinedTo);

        // The store is closed: a commit fails (it does not throw) and its record becomes a gap too.
        var closed = await buffer.WriteAsync(Kit.Rec("drone/t1/other", 2)).WithTimeout();
        Assert.Equal(CommitStatus.StoreFailed, closed.Status);
        Assert.NotEqual(HealthState.Healthy, Assert.Single(buffer.Report()).State);
        await TaskTimeouts.Eventually(() => Volatile.Read(ref attempts) >= 3, "the replacement is retried");
        Assert.Single(_logs.Entries, e => e.Id.Id == 5012); // rate-limited, not one per attempt
        Assert.True(_logs.Entries.Count(e => e.Id.Id == 5006) <= 1, "the writer loop does not log an error per round");

        Volatile.Write(ref refuse, 0);
        await TaskTimeouts.Eventually(() => buffer.QuarantinedTo is not null && !buffer.ReplacementPending, "the retry replaces the store");
        Assert.True(File.Exists(buffer.QuarantinedTo));
        var ok = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 3)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, ok.Status);
        Assert.True(ok.Sequence > before.Sequence);

        var all = Kit.All(buffer);
        var gaps = all.Where(r => r.Kind == RecordKind.Gap).Select(r => JsonDocument.Parse(r.Payload).RootElement).ToList();
        Assert.Equal(2, gaps.Where(g => g.GetProperty("reason").GetString() == "store_failed").Sum(g => g.GetProperty("count").GetInt64()));
        Assert.Contains(gaps, g => g.GetProperty("stream").GetString() == "drone/t1/other");
        Assert.Equal([3L], Kit.All(buffer, "drone/t1/state").Where(r => r.Kind == RecordKind.DroneState).Select(Kit.N));
        var health = Assert.Single(buffer.Report());
        Assert.Equal(HealthState.Degraded, health.State);
        Assert.Contains("corrupt while running", health.Summary, StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("could not be replaced", StringComparison.Ordinal)
            || m.Contains("failed and they were dropped", StringComparison.Ordinal)
            || m.Contains("unreadable while running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Corruption_reported_about_a_store_that_was_already_replaced_does_not_quarantine_the_new_one()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        var oldGeneration = buffer.StoreGeneration;
        var corrupt = 1;
        buffer.AppendFaultForTests = () => Interlocked.Exchange(ref corrupt, 0) == 1 ? Malformed() : null;
        Assert.Equal(CommitStatus.Committed, (await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout()).Status);
        var replaced = buffer.QuarantinedTo;
        Assert.NotNull(replaced);
        Assert.Equal(oldGeneration + 1, buffer.StoreGeneration);

        // The background check (or a forwarder) started on the old file and reports its damage late.
        buffer.ReportCorruption("quick_check: damage in the old file", oldGeneration);
        for (var i = 2; i < 6; i++)
        {
            Assert.Equal(CommitStatus.Committed, (await buffer.WriteAsync(Kit.Rec("drone/t1/state", i)).WithTimeout()).Status);
            await Task.Delay(100); // writer rounds, maintenance ticks
        }

        Assert.Equal(replaced, buffer.QuarantinedTo);
        Assert.Single(_logs.Entries, e => e.Id.Id == 5011);
        Assert.Equal([1L, 2, 3, 4, 5], Kit.All(buffer, "drone/t1/state").Select(Kit.N));

        // A report about the current file is acted on.
        buffer.ReportCorruption("quick_check: damage in the current file", buffer.StoreGeneration);
        await TaskTimeouts.Eventually(() => buffer.QuarantinedTo != replaced, "damage in the current store is quarantined");
        Assert.Equal(oldGeneration + 2, buffer.StoreGeneration);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("unreadable while running", StringComparison.Ordinal));
    }

    [Fact]
    public void Append_that_fails_rolls_back_its_stream_ids_and_the_next_append_to_a_known_stream_commits()
    {
        var path = Path.Combine(_dir.Path, "buffer.db");
        using var store = RecordStore.Open(path, TimeSpan.FromSeconds(5), TimeProvider.System, out _);
        Assert.Equal(StoreWriteStatus.Committed, store.Append([Kit.Rec("drone/t1/state", 0)], Durability.Normal, null, out _, out _));

        // The file may not grow: a big batch that also creates a new stream fails with SQLITE_FULL and rolls back.
        store.SetMaxPageCountForTests(1);
        var big = Enumerable.Range(1, 50).Select(i => Kit.Rec(i % 2 == 0 ? "drone/t1/state" : "drone/t2/state", i, padding: 4000)).ToList();
        Assert.Equal(StoreWriteStatus.Full, store.Append(big, Durability.Normal, null, out _, out var error));
        Assert.NotNull(error);
        Assert.True(store.StreamCacheStaleForTests, "the cache is reloaded on next use, not inside the error handler");

        store.SetMaxPageCountForTests(1_000_000);
        Assert.Equal(StoreWriteStatus.Committed, store.Append([Kit.Rec("drone/t1/state", 51), Kit.Rec("drone/t2/state", 52)], Durability.Normal, null, out var first, out _));
        using var conn = RecordStore.OpenReader(path);
        var rows = RecordStore.ReadAfter(conn, first - 1, long.MaxValue, 10);
        Assert.Equal(["drone/t1/state", "drone/t2/state"], rows.Select(r => r.Stream));
        Assert.False(store.StreamCacheStaleForTests);
    }
}

public sealed class BackgroundCheckWalTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Background_check_that_holds_the_wal_past_its_share_gives_way_to_the_checkpoint_and_stop_interrupts_it()
    {
        var options = Kit.Options(_dir.Path, o => o.MaxBytes = 4L * 1024 * 1024); // WAL share 400 KiB
        await using (var first = Kit.Buffer(options, _logs))
        {
            first.Start();
            await first.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        }

        options.IntegrityCheckTimeout = TimeSpan.Zero;
        // The buffer runs on a manual clock, so the check's 30 s pause before it starts again lasts for the rest of
        // the test however slow the machine is (on the system clock a stall could end the pause and pin the WAL
        // again mid-test). No group-commit delay: it would wait on the manual clock too.
        options.BatchInterval = TimeSpan.Zero;
        var time = new ManualTimeProvider();
        var buffer = Kit.Buffer(options, _logs, time);
        // A check that reads the store and never ends on its own: a store far too big to check quickly.
        buffer.BackgroundCheckSqlForTests = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 'ok' FROM c, records LIMIT 1 OFFSET 1000000000000;";
        buffer.Start();
        var walShare = options.MaxBytes / 10;
        var n = 0;
        var phase = Stopwatch.StartNew();
        while (buffer.BackgroundCheckYields == 0)
        {
            Assert.True(phase.Elapsed < TimeSpan.FromSeconds(60), "the check is interrupted once the WAL passes 1.5 times its share");
            for (var i = 0; i < 50; i++)
            {
                buffer.TryWrite(Kit.Rec("drone/t1/state", ++n, padding: 1000));
            }

            await buffer.WriteAsync(Kit.Rec("drone/t1/state", ++n)).WithTimeout();
        }

        // The count is published after the log line, so the line is there once the count is seen.
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5015);
        Assert.False(buffer.BackgroundCheckCompleted);

        // With the snapshot gone the checkpoint completes, the next commit restarts the WAL, and
        // journal_size_limit trims the file back to the share.
        phase.Restart();
        while (buffer.StoreForTests!.WalBytes() > walShare + (walShare / 2))
        {
            Assert.True(phase.Elapsed < TimeSpan.FromSeconds(60), $"the WAL is back within its share ({buffer.StoreForTests!.WalBytes()} > {walShare})");
            for (var i = 0; i < 20; i++)
            {
                buffer.TryWrite(Kit.Rec("drone/t1/state", ++n, padding: 1000));
            }

            await buffer.WriteAsync(Kit.Rec("drone/t1/state", ++n)).WithTimeout();
            await Task.Delay(20);
        }

        // No time passed on the buffer's clock: the check is still in its pause, not running again.
        Assert.Equal(1, buffer.BackgroundCheckYields);
        // Stop while the check is paused: it ends promptly (the other test stops it while running).
        var stop = buffer.StopAsync();
        Assert.True(await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20))) == stop, "stop does not wait for the check");
        await stop;
        await buffer.DisposeAsync();
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Stop_right_after_start_interrupts_a_background_check_that_has_not_begun_its_statement_yet()
    {
        var options = Kit.Options(_dir.Path);
        await using (var first = Kit.Buffer(options, _logs))
        {
            first.Start();
            await first.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        }

        options.IntegrityCheckTimeout = TimeSpan.Zero;
        for (var round = 0; round < 5; round++)
        {
            // The check never ends on its own: only an interrupt that reaches its running statement stops it.
            var buffer = Kit.Buffer(options, _logs);
            buffer.BackgroundCheckSqlForTests = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT 'ok' FROM c, records LIMIT 1 OFFSET 1000000000000;";
            buffer.Start();
            if (round % 2 == 1)
            {
                await Task.Delay(50); // sometimes the statement is already running, sometimes not yet
            }

            var stop = buffer.StopAsync();
            Assert.True(await Task.WhenAny(stop, Task.Delay(TimeSpan.FromSeconds(20))) == stop, $"round {round}: stop does not wait for the check");
            await buffer.DisposeAsync();
            Assert.False(buffer.BackgroundCheckCompleted);
        }

        _logs.AssertNoUnexpectedErrors();
    }
}
