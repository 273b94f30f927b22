using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class ForwarderTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = Kit.StoreDir();
    private readonly TestLoggerProvider _logs = new(output);

    public void Dispose() => _dir.Dispose();

    private static SinkForwardingOptions Fast(Action<SinkForwardingOptions>? configure = null)
    {
        var o = new SinkForwardingOptions
        {
            MaxRecordsPerSecond = 0,
            RetryMinDelay = TimeSpan.FromMilliseconds(20),
            RetryMaxDelay = TimeSpan.FromMilliseconds(100),
            LiveShare = 0,
        };
        configure?.Invoke(o);
        return o;
    }

    private async Task<List<long>> WriteAsync(RecordBuffer buffer, int count, string stream = "drone/t1/state", int start = 0)
    {
        var seqs = new List<long>();
        for (var i = 0; i < count; i++)
        {
            seqs.Add((await buffer.WriteAsync(Kit.Rec(stream, start + i)).WithTimeout()).Sequence);
        }

        return seqs;
    }

    [Fact]
    public async Task Out_of_order_acks_move_the_cursor_only_over_the_contiguous_prefix()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var seqs = await WriteAsync(buffer, 10);
        var sink = new ScriptedSink();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => sink.Sent.Count == 10, "all ten sent in the window");

        foreach (var s in seqs.Skip(3).Reverse())
        {
            sink.Ack(s); // 10..4 acknowledged, 1..3 not
        }

        sink.Ack(seqs[1]);
        await Task.Delay(200);
        Assert.Equal(seqs[0] - 1, forwarder.Cursor);

        sink.Ack(seqs[0]);
        await TaskTimeouts.Eventually(() => forwarder.Cursor == seqs[1], "cursor moves over 1 and 2 only");
        await Task.Delay(100);
        Assert.Equal(seqs[1], forwarder.Cursor);

        sink.Ack(seqs[2]);
        await TaskTimeouts.Eventually(() => forwarder.Cursor == seqs[^1], "the gap closed: cursor jumps to the end");
        await TaskTimeouts.Eventually(() => buffer.GetCursor("test") == seqs[^1], "cursor handed to the buffer for persistence");
        Assert.Equal(10, sink.Sent.Count); // nothing resent
    }

    [Fact]
    public async Task Inflight_window_is_never_exceeded()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var seqs = await WriteAsync(buffer, 30);
        var sink = new ScriptedSink();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => { o.InflightWindow = 8; o.BatchSize = 3; }), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => sink.Sent.Count == 8, "window filled");
        await Task.Delay(200);
        Assert.Equal(8, sink.Sent.Count);
        sink.Ack(seqs[0]);
        sink.Ack(seqs[1]);
        await TaskTimeouts.Eventually(() => sink.Sent.Count == 10, "two acks make room for two");
        await Task.Delay(200);
        Assert.Equal(10, sink.Sent.Count);
    }

    [Fact]
    public async Task Sink_failing_mid_batch_gets_the_unacknowledged_records_again_and_loses_nothing()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var seqs = await WriteAsync(buffer, 40);
        var failed = 0;
        var sink = new ScriptedSink { AutoAck = false };
        sink.OnBatch = (batch, acks) =>
        {
            if (Interlocked.CompareExchange(ref failed, 1, 0) == 0)
            {
                // Half the first batch got through, then the link dropped.
                foreach (var r in batch.Take(batch.Count / 2))
                {
                    sink.Ack(r.Sequence);
                }

                acks.ConnectionLost("socket reset");
                return;
            }

            foreach (var r in batch)
            {
                sink.Ack(r.Sequence);
            }
        };
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => o.BatchSize = 10), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => forwarder.Cursor == seqs[^1], "everything is delivered in the end");
        Assert.Equal(1, forwarder.Rewinds);
        Assert.True(seqs.All(s => sink.Acked.Contains(s)), "every record acknowledged at least once");
        // The unacknowledged second half of the first batch was sent again.
        Assert.True(sink.Sent.Count(r => r.Sequence == seqs[7]) >= 2);
        // Per stream, each delivery pass is in order.
        var resendStart = sink.Sent.Select((r, i) => (r, i)).First(x => x.i > 0 && x.r.Sequence <= sink.Sent[x.i - 1].Sequence).i;
        Assert.True(sink.Sent.Skip(resendStart).Zip(sink.Sent.Skip(resendStart + 1)).All(p => p.First.Sequence < p.Second.Sequence));
    }

    [Fact]
    public async Task Refused_and_disconnected_sends_back_off_and_resend_from_the_cursor()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var seqs = await WriteAsync(buffer, 5);
        using var rewinds = new Kit.CounterProbe("edge_forwarder_rewinds");
        var sink = new ScriptedSink { AutoAck = true, NextResult = SinkSendResult.Failed };
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => forwarder.Rewinds >= 2 && rewinds["nack"] >= 2, () => $"retries while the sink refuses, counted with reason nack: {rewinds["nack"]}");
        sink.NextResult = SinkSendResult.Disconnected;
        await TaskTimeouts.Eventually(() => forwarder.Rewinds >= 4, "retries while the link is down");
        Assert.Equal(seqs[0] - 1, forwarder.Cursor);
        sink.NextResult = SinkSendResult.Sent;
        await TaskTimeouts.Eventually(() => forwarder.Cursor == seqs[^1], "delivered once the link is back");
        Assert.Equal(seqs, sink.Sent.Select(r => r.Sequence));
    }

    [Fact]
    public async Task Restart_between_send_and_ack_sends_the_record_again()
    {
        var options = Kit.Options(_dir.Path);
        List<long> seqs;
        await using (var buffer = Kit.Buffer(options, _logs))
        {
            buffer.Start();
            seqs = await WriteAsync(buffer, 6);
            var sink = new ScriptedSink();
            await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(), TimeProvider.System, _logs.For<UpstreamForwarder>());
            forwarder.Start();
            await TaskTimeouts.Eventually(() => sink.Sent.Count == 6, "sent");
            sink.Ack(seqs[0]);
            sink.Ack(seqs[1]);
            await TaskTimeouts.Eventually(() => buffer.GetCursor("test") == seqs[1], "two acknowledged");
            await forwarder.StopAsync(); // the gateway dies before the other four are acknowledged
        }

        await using var again = Kit.Buffer(options, _logs);
        again.Start();
        Assert.Equal(seqs[1], again.GetCursor("test")); // persisted
        var sink2 = new ScriptedSink { AutoAck = true };
        await using var forwarder2 = new UpstreamForwarder(again, sink2, Fast(), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder2.Start();
        await TaskTimeouts.Eventually(() => forwarder2.Cursor == seqs[^1], "the rest delivered after restart");
        Assert.Equal(seqs.Skip(2), sink2.Sent.Select(r => r.Sequence));
    }

    [Fact]
    public async Task Missing_acks_time_out_and_the_window_is_resent()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var seqs = await WriteAsync(buffer, 3);
        using var rewinds = new Kit.CounterProbe("edge_forwarder_rewinds");
        var sink = new ScriptedSink();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => o.AckTimeout = TimeSpan.FromMilliseconds(300)), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => sink.Sent.Count >= 6, "sent twice after the ack timeout");
        Assert.Equal(seqs, sink.Sent.Take(3).Select(r => r.Sequence));
        Assert.Equal(seqs, sink.Sent.Skip(3).Take(3).Select(r => r.Sequence));
        await TaskTimeouts.Eventually(() => rewinds["ack_timeout"] >= 1, "the rewind is counted with reason ack_timeout");
    }

    [Fact]
    public async Task Replay_is_limited_to_the_configured_records_per_second()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        await FillAsync(buffer, 1000, padding: 0);
        var sink = new ScriptedSink { AutoAck = true };
        // The governor runs on a manual clock: what it may send is fixed by the time the test lets pass.
        var time = new ManualTimeProvider();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => { o.MaxRecordsPerSecond = 200; o.BatchSize = 50; }), time, _logs.For<UpstreamForwarder>());
        forwarder.Start();

        // The start burst is one batch; with time frozen nothing more goes out.
        await TaskTimeouts.Eventually(() => sink.Sent.Count == 50, "the first batch is sent at once");
        await Task.Delay(200);
        Assert.Equal(50, sink.Sent.Count);

        for (var step = 1; step <= 4; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(250)); // 200 records/s x 0.25 s = 50 more
            var expected = 50 + (50 * step);
            await TaskTimeouts.Eventually(() => Nudged(forwarder, sink.Sent.Count >= expected - 1), () => $"step {step}: {sink.Sent.Count} sent, expected {expected}");
            await Task.Delay(100);
            Assert.InRange(sink.Sent.Count, expected - 1, expected);
        }

        Assert.Equal(sink.Sent.Select(r => r.Sequence).Order(), sink.Sent.Select(r => r.Sequence));
    }

    [Fact]
    public async Task Replay_is_limited_to_the_configured_bytes_per_second()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        await FillAsync(buffer, 200, padding: 980); // ~1 kB each
        var sink = new ScriptedSink { AutoAck = true };
        var time = new ManualTimeProvider();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => o.MaxBytesPerSecond = 20_000), time, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        long Bytes() => sink.Sent.Sum(r => r.Payload.Length + r.Stream.Length);
        const long record = 1020; // the largest record; a send may overdraw the bucket by one

        // One second's worth at start, then 20 kB per second of (manual) time, never the 200 kB backlog.
        await TaskTimeouts.Eventually(() => Bytes() >= 20_000 - record, () => $"start burst: {Bytes()} B");
        await Task.Delay(200);
        Assert.InRange(Bytes(), 20_000 - record, 20_000 + record);
        for (var step = 1; step <= 4; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(500));
            var expected = 20_000 + (10_000 * step);
            await TaskTimeouts.Eventually(() => Nudged(forwarder, Bytes() >= expected - (2 * record)), () => $"step {step}: {Bytes()} B sent, expected about {expected}");
            await Task.Delay(100);
            Assert.InRange(Bytes(), expected - (2 * record), expected + record);
        }
    }

    [Fact]
    public async Task While_catching_up_live_records_are_interleaved_ahead_of_the_backlog()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var backlogEnd = await FillAsync(buffer, 3000, padding: 0);
        var sink = new ScriptedSink { AutoAck = true };
        var time = new ManualTimeProvider();
        var options = Fast(o => { o.LiveShare = 0.25; o.CatchUpThreshold = 100; o.MaxRecordsPerSecond = 1000; o.BatchSize = 50; });
        await using var forwarder = new UpstreamForwarder(buffer, sink, options, time, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => sink.Sent.Count == 50, "the first backlog batch is sent");

        // Live records arrive while the governor holds the backlog back (time frozen).
        var live = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            live.Add((await buffer.WriteAsync(Kit.Rec("drone/t1/live", i)).WithTimeout()).Sequence);
        }

        time.Advance(TimeSpan.FromMilliseconds(100)); // 100 more records may go
        await TaskTimeouts.Eventually(() => Nudged(forwarder, live.All(s => sink.Sent.Any(r => r.Sequence == s))), "live records reach the sink");
        var backlogSent = sink.Sent.Count(r => r.Sequence <= backlogEnd);
        Assert.InRange(backlogSent, 50, 150); // far from the 3000 of the backlog
        await TaskTimeouts.Eventually(() =>
        {
            if (forwarder.Cursor >= live[^1])
            {
                return true;
            }

            time.Advance(TimeSpan.FromMilliseconds(200));
            return false;
        }, "cursor covers backlog and live once both are acknowledged", TimeSpan.FromSeconds(60));
        Assert.Equal(0, forwarder.Rewinds);
        Assert.Equal(3020, sink.Sent.Count);
        Assert.Equal(3020, sink.Sent.Select(r => r.Sequence).Distinct().Count());
    }

    /// <summary>
    /// Wakes the forwarder with an acknowledgement of a sequence that was never sent (ignored). On a manual
    /// clock a pacing timer the forwarder created while <see cref="ManualTimeProvider.Advance"/> was moving
    /// time is due after the new time and would never fire; a real clock always gets there.
    /// </summary>
    private static bool Nudged(UpstreamForwarder forwarder, bool condition)
    {
        if (!condition)
        {
            forwarder.Acknowledge(0);
        }

        return condition;
    }

    /// <summary>Commits a backlog of <paramref name="count"/> records; returns the last sequence.</summary>
    private static async Task<long> FillAsync(RecordBuffer buffer, int count, int padding)
    {
        for (var i = 0; i < count - 1; i++)
        {
            Assert.True(buffer.TryWrite(Kit.Rec("drone/t1/state", i, padding: padding)));
        }

        var last = await buffer.WriteAsync(Kit.Rec("drone/t1/state", count - 1, padding: padding)).WithTimeout();
        Assert.Equal(CommitStatus.Committed, last.Status);
        return last.Sequence;
    }

    [Fact]
    public async Task Downsampling_sends_one_record_per_interval_for_matching_streams_and_everything_else()
    {
        var time = TimeProvider.System;
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var t0 = time.GetTimestamp();
        long last = 0;
        for (var i = 0; i < 50; i++)
        {
            // 10 Hz state over 5 s of capture time; an event in the same stream family is never dropped.
            var mono = t0 + (long)(i * 0.1 * time.TimestampFrequency);
            buffer.TryWrite(Kit.Rec("drone/t1/state", i) with { MonotonicTimestamp = mono });
            buffer.TryWrite(Kit.Rec("sensor/gps0", i, RecordKind.SensorReading) with { MonotonicTimestamp = mono });
            last = (await buffer.WriteAsync(Kit.Rec("drone/t1/events", i, RecordKind.Event) with { MonotonicTimestamp = mono }).WithTimeout()).Sequence;
        }

        var sink = new ScriptedSink { AutoAck = true };
        var options = Fast(o => o.Downsample = new() { ["drone/*/state"] = TimeSpan.FromSeconds(1) });
        await using var forwarder = new UpstreamForwarder(buffer, sink, options, time, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => forwarder.Cursor == last, "cursor passes skipped records too");
        Assert.Equal([0L, 10, 20, 30, 40], sink.Sent.Where(r => r.Stream == "drone/t1/state").Select(Kit.N));
        Assert.Equal(50, sink.Sent.Count(r => r.Stream == "sensor/gps0"));
        Assert.Equal(50, sink.Sent.Count(r => r.Stream == "drone/t1/events"));
    }

    [Fact]
    public async Task Downsampled_records_are_counted_once_however_often_a_failing_sink_makes_the_forwarder_reread_them()
    {
        var time = TimeProvider.System;
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        var t0 = time.GetTimestamp();
        long last = 0;
        for (var i = 0; i < 50; i++)
        {
            // 10 Hz state over 5 s of capture time: with a 1 s interval 5 are sent and 45 skipped.
            var mono = t0 + (long)(i * 0.1 * time.TimestampFrequency);
            buffer.TryWrite(Kit.Rec("drone/t1/state", i) with { MonotonicTimestamp = mono });
            last = (await buffer.WriteAsync(Kit.Rec("sensor/gps0", i, RecordKind.SensorReading) with { MonotonicTimestamp = mono }).WithTimeout()).Sequence;
        }

        const string name = "downsample-count";
        using var downsampled = new Kit.CounterProbe("edge_forwarder_records_downsampled");
        var sink = new ScriptedSink(name) { AutoAck = true, NextResult = SinkSendResult.Failed };
        var options = Fast(o => o.Downsample = new() { ["drone/*/state"] = TimeSpan.FromSeconds(1) });
        await using var forwarder = new UpstreamForwarder(buffer, sink, options, time, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => Volatile.Read(ref sink.Batches) >= 10, "the forwarder retried the same records many times");
        Assert.Equal(45, downsampled[name]);

        sink.NextResult = SinkSendResult.Sent;
        await TaskTimeouts.Eventually(() => forwarder.Cursor == last, "delivered once the sink works");
        Assert.Equal([0L, 10, 20, 30, 40], sink.Sent.Where(r => r.Stream == "drone/t1/state").Select(Kit.N));
        Assert.Equal(45, downsampled[name]); // = 50 stored - 5 sent: the records actually skipped
    }
}
