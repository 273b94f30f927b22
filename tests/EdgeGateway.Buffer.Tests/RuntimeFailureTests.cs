using System.Diagnostics.Metrics;
using System.Text.Json;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

/// <summary>Failures while running (corruption, failing commits, no free disk), start-up failures, durability and metrics.</summary>
public sealed class RuntimeFailureTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Store_found_corrupt_while_running_is_quarantined_and_records_and_forwarding_continue_on_a_fresh_store()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var sink = new ScriptedSink("uplink") { AutoAck = true };
        await using var forwarder = new UpstreamForwarder(buffer, sink, new SinkForwardingOptions { MaxRecordsPerSecond = 0 }, TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        long before = 0;
        for (var i = 0; i < 10; i++)
        {
            before = (await buffer.WriteAsync(Kit.Rec("drone/t1/state", i)).WithTimeout()).Sequence;
        }

        await TaskTimeouts.Eventually(() => forwarder.Cursor == before, "delivered before the corruption");
        var corrupt = 1;
        buffer.AppendFaultForTests = () => Interlocked.Exchange(ref corrupt, 0) == 1 ? new SqliteException("database disk image is malformed", 11) : null;

        var after = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 10)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, after.Status); // the batch went to the fresh store
        Assert.True(after.Sequence > before, $"{after.Sequence} must continue above {before}");
        Assert.NotNull(buffer.QuarantinedTo);
        Assert.Matches(@"buffer\.db\.corrupt-\d{8}T\d{6}Z$", buffer.QuarantinedTo);
        Assert.True(File.Exists(buffer.QuarantinedTo), "the old file is kept aside");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5011 && e.Level == Microsoft.Extensions.Logging.LogLevel.Error);

        // The event goes upstream like any record; the forwarder reopened the new file and goes on.
        var more = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 11)).WithTimeout();
        await TaskTimeouts.Eventually(() => forwarder.Cursor >= more.Sequence, "forwarding continues on the fresh store");
        var ev = Assert.Single(sink.Sent, r => r.Stream == RecordBuffer.EventStream);
        var payload = JsonDocument.Parse(ev.Payload).RootElement;
        Assert.Equal("store_quarantined", payload.GetProperty("event").GetString());
        Assert.Contains("malformed", payload.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal([10L, 11], sink.Sent.Where(r => r.Sequence > before && r.Stream == "drone/t1/state").Select(Kit.N));
        Assert.Equal([10L, 11], Kit.All(buffer, "drone/t1/state").Select(Kit.N)); // the fresh store holds only what came after

        var health = Assert.Single(buffer.Report());
        Assert.Equal(HealthState.Degraded, health.State);
        Assert.Contains("corrupt while running", health.Summary, StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("unreadable while running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Store_too_big_for_the_start_check_is_checked_after_ready_and_quarantined_if_damaged()
    {
        var options = Kit.Options(_dir.Path);
        var last = await Kit.WriteStoreWithDamagedPagesAsync(options, _logs);

        // A zero time box stands for a store too big to check before READY.
        options.IntegrityCheckTimeout = TimeSpan.Zero;
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();
        Assert.True(buffer.IsReady);
        Assert.Null(buffer.QuarantinedTo); // not found at start
        await TaskTimeouts.Eventually(() => buffer.QuarantinedTo is not null && buffer.BackgroundCheckCompleted, "the background check finds the damage and the store is moved aside");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5013);
        Assert.True(File.Exists(buffer.QuarantinedTo));
        var next = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 1)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, next.Status);
        Assert.True(next.Sequence > last, "the fresh store continues above the damaged one");
        Assert.Equal(HealthState.Degraded, Assert.Single(buffer.Report()).State);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("damaged", StringComparison.Ordinal) || m.Contains("unreadable while running", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Healthy_store_not_checked_at_start_passes_the_background_check_and_stays_in_place()
    {
        var options = Kit.Options(_dir.Path);
        await using (var first = Kit.Buffer(options, _logs))
        {
            first.Start();
            await first.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        }

        options.IntegrityCheckTimeout = TimeSpan.Zero;
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();
        await TaskTimeouts.Eventually(() => buffer.BackgroundCheckCompleted, "the background check runs to its end");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5014);
        Assert.Null(buffer.QuarantinedTo);
        Assert.Equal([0L], Kit.All(buffer).Select(Kit.N));
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Failing_commits_make_health_degraded_then_unhealthy_and_a_success_makes_it_healthy_again()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        Assert.Equal(HealthState.Healthy, Assert.Single(buffer.Report()).State);
        buffer.AppendFaultForTests = () => new SqliteException("disk I/O error", 10);

        var first = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        Assert.Equal(CommitStatus.StoreFailed, first.Status);
        var degraded = Assert.Single(buffer.Report());
        Assert.Equal(HealthState.Degraded, degraded.State);
        Assert.Contains("disk I/O error", degraded.Summary, StringComparison.Ordinal);

        for (var i = 1; i < RecordBuffer.FailedCommitsUnhealthy; i++)
        {
            Assert.Equal(CommitStatus.StoreFailed, (await buffer.WriteAsync(Kit.Rec("drone/t1/state", i)).WithTimeout()).Status);
        }

        var unhealthy = Assert.Single(buffer.Report());
        Assert.Equal(HealthState.Unhealthy, unhealthy.State);
        Assert.Contains($"{RecordBuffer.FailedCommitsUnhealthy} commits in a row failed", unhealthy.Summary, StringComparison.Ordinal);
        Assert.Null(buffer.QuarantinedTo); // an I/O error is not corruption: the file stays

        buffer.AppendFaultForTests = null;
        var ok = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 99)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, ok.Status);
        Assert.Equal(HealthState.Healthy, Assert.Single(buffer.Report()).State);

        // The refused records are reported as a gap in the next commit.
        var gaps = Kit.All(buffer).Where(r => r.Kind == RecordKind.Gap).Select(r => JsonDocument.Parse(r.Payload).RootElement).ToList();
        Assert.Equal(RecordBuffer.FailedCommitsUnhealthy, gaps.Where(g => g.GetProperty("reason").GetString() == "store_failed").Sum(g => g.GetProperty("count").GetInt64()));
        _logs.AssertNoUnexpectedErrors(m => m.Contains("failed and they were dropped", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("under-a-file")]
    [InlineData("database-is-a-directory")]
    public async Task Store_that_cannot_be_opened_fails_start_with_a_message_naming_the_key_and_the_file(string problem)
    {
        var options = Kit.Options(_dir.Path);
        if (problem == "under-a-file")
        {
            var file = Path.Combine(_dir.Path, "not-a-dir");
            await File.WriteAllTextAsync(file, "x");
            options.DataDirectory = Path.Combine(file, "data");
        }
        else
        {
            Directory.CreateDirectory(options.DatabasePath);
        }

        await using var buffer = Kit.Buffer(options, _logs);
        var ex = Assert.Throws<OptionsValidationFailedException>(buffer.Start);
        var message = Assert.Single(ex.Problems);
        Assert.StartsWith("Buffer:DataDirectory: cannot open the record store", message, StringComparison.Ordinal);
        Assert.Contains(options.DatabasePath, message, StringComparison.Ordinal);
        Assert.False(buffer.IsReady);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5010);
    }

    [Fact]
    public async Task Batches_holding_an_event_or_command_audit_commit_with_synchronous_full_and_telemetry_with_normal()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path, o => o.BatchInterval = TimeSpan.Zero), _logs);
        buffer.Start();
        var store = buffer.StoreForTests!;

        await buffer.WriteAsync(Kit.Rec("drone/t1/state", 0)).WithTimeout();
        Assert.Equal(1, store.SynchronousForTests()); // NORMAL
        Assert.Equal(0, buffer.FullCommits);

        await buffer.WriteAsync(Kit.Rec("drone/t1/events", 1, RecordKind.Event)).WithTimeout();
        Assert.Equal(2, store.SynchronousForTests()); // FULL
        Assert.Equal(1, buffer.FullCommits);

        await buffer.WriteAsync(Kit.Rec("sensor/gps0", 2, RecordKind.SensorReading)).WithTimeout();
        Assert.Equal(1, store.SynchronousForTests());
        Assert.Equal(1, buffer.FullCommits);

        await buffer.WriteAsync(Kit.Rec("drone/t1/audit", 3, RecordKind.CommandAudit)).WithTimeout();
        Assert.Equal(2, store.SynchronousForTests());
        Assert.Equal(2, buffer.FullCommits);
    }

    [Fact]
    public async Task Free_disk_below_the_minimum_evicts_with_reason_min_free_disk_and_counts_it()
    {
        var free = new DriveInfo(_dir.Path).AvailableFreeSpace;
        var options = Kit.Options(_dir.Path, o => o.MinFreeDiskBytes = free + (1L << 40)); // never satisfiable
        using var evicted = new Kit.CounterProbe("edge_buffer_records_evicted");
        await using var buffer = Kit.Buffer(options, _logs);
        buffer.Start();
        for (var i = 0; i < 199; i++)
        {
            buffer.TryWrite(Kit.Rec("drone/t1/state", i));
        }

        var last = await buffer.WriteAsync(Kit.Rec("drone/t1/state", 199)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, last.Status); // writes are taken; the store is then shrunk

        await TaskTimeouts.Eventually(() => buffer.EvictedRecords >= 200 && evicted["min_free_disk"] >= 200, () => $"evicted {buffer.EvictedRecords}, counted {evicted["min_free_disk"]}");
        await TaskTimeouts.Eventually(() => Kit.All(buffer, "drone/t1/state").All(r => r.Kind == RecordKind.Gap)
            && Kit.All(buffer, "drone/t1/state").Any(r => JsonDocument.Parse(r.Payload).RootElement.GetProperty("reason").GetString() == "min_free_disk"),
            "only min_free_disk gap records are left of the stream");
        Assert.Contains(_logs.Entries, e => e.Id.Id == 5007);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task Metrics_report_records_in_committed_commit_duration_file_size_backlog_and_evictions_by_reason()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var factory = services.GetRequiredService<IMeterFactory>();
        var counters = new Dictionary<(string, string), long>();
        var durations = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == BufferMetrics.MeterName && ReferenceEquals(i.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<long>((i, v, tags, _) =>
        {
            var tag = "";
            foreach (var t in tags)
            {
                tag = t.Value?.ToString() ?? "";
            }

            lock (counters)
            {
                counters[(i.Name, tag)] = counters.GetValueOrDefault((i.Name, tag)) + v;
            }
        });
        listener.SetMeasurementEventCallback<double>((i, v, _, _) =>
        {
            if (i.Name == "edge_buffer_commit_duration_seconds")
            {
                lock (durations)
                {
                    durations.Add(v);
                }
            }
        });
        listener.Start();
        long Counter(string name, string tag = "")
        {
            lock (counters)
            {
                return counters.GetValueOrDefault((name, tag));
            }
        }

        var options = Kit.Options(_dir.Path);
        await using var buffer = new RecordBuffer(options, TimeProvider.System, _logs.For<RecordBuffer>(), null, factory);
        buffer.Start();
        buffer.RegisterSink("uplink");
        var wall = DateTimeOffset.UtcNow.AddSeconds(-60);
        var writes = Enumerable.Range(0, 100).Select(i => buffer.WriteAsync(Kit.Rec("drone/t1/state", i) with { WallClock = wall })).ToList();
        Assert.All(await Task.WhenAll(writes).WithTimeout(), r => Assert.Equal(CommitStatus.Committed, r.Status));

        Assert.Equal(100, Counter("edge_buffer_records_in"));
        Assert.Equal(100, Counter("edge_buffer_records_committed"));
        lock (durations)
        {
            Assert.NotEmpty(durations);
            Assert.All(durations, d => Assert.InRange(d, 0, 30));
        }

        var gauges = Kit.ReadGauges(factory);
        Assert.InRange(gauges[("edge_buffer_file_size_bytes", "")], 4096, options.MaxBytes);
        Assert.Equal(100, gauges[("edge_buffer_backlog_records", "uplink")]);
        Assert.InRange(gauges[("edge_buffer_backlog_age_seconds", "uplink")], 59, 3600);

        // Records past MaxAge leave with reason "expired" (the options are read at every maintenance tick), and
        // one gap record for the stream says so.
        options.MaxAge = TimeSpan.FromSeconds(30);
        await TaskTimeouts.Eventually(() => Counter("edge_buffer_records_evicted", "expired") == 100, () => $"expired evictions counted: {Counter("edge_buffer_records_evicted", "expired")}");
        Assert.Equal(0, Counter("edge_buffer_records_evicted", "budget"));
        await TaskTimeouts.Eventually(() => Counter("edge_buffer_records_committed") == 101, "the gap record is counted as committed");
        Assert.Equal(100, Counter("edge_buffer_records_in"));
        await TaskTimeouts.Eventually(() => Kit.ReadGauges(factory)[("edge_buffer_backlog_records", "uplink")] == 1, "only the gap record is left to send");
    }
}
