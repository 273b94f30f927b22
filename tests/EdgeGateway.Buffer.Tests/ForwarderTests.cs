using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

public sealed class ForwarderTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDir _dir = new();
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
        var sink = new ScriptedSink { AutoAck = true, NextResult = SinkSendResult.Disconnected };
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => forwarder.Rewinds >= 3, "retries while the link is down");
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
        var sink = new ScriptedSink();
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => o.AckTimeout = TimeSpan.FromMilliseconds(300)), TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await TaskTimeouts.Eventually(() => sink.Sent.Count >= 6, "sent twice after the ack timeout");
        Assert.Equal(seqs, sink.Sent.Take(3).Select(r => r.Sequence));
        Assert.Equal(seqs, sink.Sent.Skip(3).Take(3).Select(r => r.Sequence));
    }

    [Fact]
    public async Task Replay_is_limited_to_the_configured_records_per_second()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        for (var i = 0; i < 999; i++)
        {
            buffer.TryWrite(Kit.Rec("drone/t1/state", i));
        }

        await buffer.WriteAsync(Kit.Rec("drone/t1/state", 999)).WithTimeout();
        var sink = new ScriptedSink { AutoAck = true };
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => { o.MaxRecordsPerSecond = 200; o.BatchSize = 50; }), TimeProvider.System, _logs.For<UpstreamForwarder>());
        var started = DateTime.UtcNow;
        forwarder.Start();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var sent = sink.Sent.Count;
        var elapsed = (DateTime.UtcNow - started).TotalSeconds;
        // Burst of one second's worth plus the rate; never the whole backlog at once.
        Assert.True(sent <= 200 + (200 * elapsed) + 50, $"sent {sent} in {elapsed:0.00} s");
        Assert.True(sent >= 150, $"sent only {sent}");
    }

    [Fact]
    public async Task Replay_is_limited_to_the_configured_bytes_per_second()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        for (var i = 0; i < 199; i++)
        {
            buffer.TryWrite(Kit.Rec("drone/t1/state", i, padding: 980)); // ~1 kB each
        }

        await buffer.WriteAsync(Kit.Rec("drone/t1/state", 199, padding: 980)).WithTimeout();
        var sink = new ScriptedSink { AutoAck = true };
        await using var forwarder = new UpstreamForwarder(buffer, sink, Fast(o => o.MaxBytesPerSecond = 20_000), TimeProvider.System, _logs.For<UpstreamForwarder>());
        var started = DateTime.UtcNow;
        forwarder.Start();
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var bytes = sink.Sent.Sum(r => r.Payload.Length + r.Stream.Length);
        var elapsed = (DateTime.UtcNow - started).TotalSeconds;
        Assert.True(bytes <= 20_000 + (20_000 * elapsed) + 1100, $"sent {bytes} B in {elapsed:0.00} s");
        Assert.True(bytes >= 15_000, $"sent only {bytes} B");
    }

    [Fact]
    public async Task While_catching_up_live_records_are_interleaved_ahead_of_the_backlog()
    {
        await using var buffer = Kit.Buffer(Kit.Options(_dir.Path), _logs);
        buffer.Start();
        for (var i = 0; i < 2999; i++)
        {
            buffer.TryWrite(Kit.Rec("drone/t1/state", i));
        }

        var backlogEnd = (await buffer.WriteAsync(Kit.Rec("drone/t1/state", 2999)).WithTimeout()).Sequence;
        var sink = new ScriptedSink { AutoAck = true };
        var options = Fast(o => { o.LiveShare = 0.25; o.CatchUpThreshold = 100; o.MaxRecordsPerSecond = 1000; o.BatchSize = 50; });
        await using var forwarder = new UpstreamForwarder(buffer, sink, options, TimeProvider.System, _logs.For<UpstreamForwarder>());
        forwarder.Start();
        await Task.Delay(300);
        var live = new List<long>();
        for (var i = 0; i < 20; i++)
        {
            live.Add((await buffer.WriteAsync(Kit.Rec("drone/t1/live", i)).WithTimeout()).Sequence);
            await Task.Delay(20);
        }

        await TaskTimeouts.Eventually(() => live.All(s => sink.Sent.Any(r => r.Sequence == s)), "live records reach the sink");
        Assert.True(sink.Sent.Count(r => r.Sequence <= backlogEnd) < 3000, "live records went out before the backlog finished");
        await TaskTimeouts.Eventually(() => forwarder.Cursor >= live[^1], "cursor covers backlog and live once both are acknowledged", TimeSpan.FromSeconds(30));
        Assert.Equal(3020, sink.Sent.Select(r => r.Sequence).Distinct().Count());
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
}
