using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using System.Text.Json;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Buffer.Tests;

/// <summary>System time, but the wall clock can be jumped (NTP step, RTC reset) without touching timestamps or timers.</summary>
internal sealed class JumpingTimeProvider : TimeProvider
{
    private long _offsetTicks;

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow().AddTicks(Interlocked.Read(ref _offsetTicks));

    public void Jump(TimeSpan delta) => Interlocked.Add(ref _offsetTicks, delta.Ticks);
}

internal static class Kit
{
    /// <summary>A temporary data directory; SQLite's pooled connections to it are closed before it is deleted.</summary>
    public static TempDir StoreDir() => new("eg-buffer-test-", Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools);

    public static BufferOptions Options(string dir, Action<BufferOptions>? configure = null)
    {
        var o = new BufferOptions
        {
            DataDirectory = dir,
            MaxBytes = 64L * 1024 * 1024,
            MinFreeDiskBytes = 0,
            BatchInterval = TimeSpan.FromMilliseconds(5),
            MaintenanceInterval = TimeSpan.FromMilliseconds(200),
        };
        configure?.Invoke(o);
        return o;
    }

    public static RecordBuffer Buffer(BufferOptions options, TestLoggerProvider logs, TimeProvider? time = null)
        => new(options, time ?? TimeProvider.System, logs.CreateFactory().CreateLogger<RecordBuffer>());

    /// <summary>
    /// Writes 3,001 padded records (about 150 pages), stops, then overwrites pages 10..40 with garbage, keeping the
    /// header page intact. Returns the last committed sequence.
    /// </summary>
    public static async Task<long> WriteStoreWithDamagedPagesAsync(BufferOptions options, TestLoggerProvider logs)
    {
        long last;
        await using (var first = Buffer(options, logs))
        {
            first.Start();
            for (var i = 0; i < 3000; i++)
            {
                first.TryWrite(Rec("drone/t1/state", i, padding: 100));
            }

            last = (await first.WriteAsync(Rec("drone/t1/state", 3000)).WithTimeout()).Sequence;
        }

        using var f = new FileStream(options.DatabasePath, FileMode.Open, FileAccess.Write);
        var junk = new byte[4096 * 30];
        new Random(7).NextBytes(junk);
        f.Position = 4096 * 10;
        f.Write(junk);
        return last;
    }

    public static TelemetryRecord Rec(string stream, long n, RecordKind kind = RecordKind.DroneState, TimeProvider? time = null, int padding = 0)
    {
        var t = time ?? TimeProvider.System;
        var json = $"{{\"n\":{n},\"pad\":\"{new string('x', padding)}\"}}";
        return new TelemetryRecord(stream, kind, t.GetUtcNow(), TimeSource.Ntp, t.GetTimestamp(), Encoding.UTF8.GetBytes(json));
    }

    public static long N(BufferedRecord r) => JsonDocument.Parse(r.Payload).RootElement.GetProperty("n").GetInt64();

    public static List<BufferedRecord> All(RecordBuffer buffer, string? stream = null)
    {
        var all = new List<BufferedRecord>();
        long after = 0;
        while (true)
        {
            var page = buffer.ReadHistory(stream, after, 1000);
            if (page.Count == 0)
            {
                return all;
            }

            all.AddRange(page);
            after = page[^1].Sequence;
        }
    }

    /// <summary>
    /// Reads every observable gauge of the buffer meter created by <paramref name="factory"/> once:
    /// (instrument, last tag value) to value. Other buffers' meters (tests run in parallel) are ignored.
    /// </summary>
    public static Dictionary<(string Instrument, string Tag), double> ReadGauges(IMeterFactory factory)
    {
        var values = new Dictionary<(string, string), double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == BufferMetrics.MeterName && ReferenceEquals(i.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(i);
            }
        };
        void Record(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = "";
            foreach (var t in tags)
            {
                key = t.Value?.ToString() ?? "";
            }

            lock (values)
            {
                values[(i.Name, key)] = v;
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Record(i, v, tags));
        listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Record(i, v, tags));
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }

    /// <summary>Sums a counter of the buffer's meter, by tag value if given.</summary>
    public sealed class CounterProbe : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _values = new();

        public CounterProbe(string instrument)
        {
            _listener.InstrumentPublished = (i, l) =>
            {
                if (i.Meter.Name == BufferMetrics.MeterName && i.Name == instrument)
                {
                    l.EnableMeasurementEvents(i);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
            {
                var key = "";
                foreach (var t in tags)
                {
                    key = t.Value?.ToString() ?? "";
                }

                _values.AddOrUpdate(key, v, (_, o) => o + v);
                _values.AddOrUpdate("*", v, (_, o) => o + v);
            });
            _listener.Start();
        }

        public long Total => _values.TryGetValue("*", out var v) ? v : 0;

        public long this[string tag] => _values.TryGetValue(tag, out var v) ? v : 0;

        public void Dispose() => _listener.Dispose();
    }
}

/// <summary>
/// A sink used only in tests: records what it was sent, acknowledges automatically (in order or
/// reversed) or only when told, and can refuse or drop the link on command.
/// </summary>
internal sealed class ScriptedSink(string name = "test") : IUpstreamSink
{
    private readonly ConcurrentQueue<BufferedRecord> _sent = new();
    private readonly ConcurrentQueue<long> _acked = new();

    public string Name { get; } = name;

    public bool AutoAck { get; set; }

    public bool ReverseAcks { get; set; }

    public SinkSendResult NextResult { get; set; } = SinkSendResult.Sent;

    /// <summary>Called for each batch before acks; may acknowledge part and drop the link, etc.</summary>
    public Action<IReadOnlyList<BufferedRecord>, ISinkAcknowledger>? OnBatch { get; set; }

    public ISinkAcknowledger? Acks { get; private set; }

    public IReadOnlyList<BufferedRecord> Sent => [.. _sent];

    public IReadOnlyList<long> Acked => [.. _acked];

    public int Batches;

    public ValueTask<SinkSendResult> SendAsync(IReadOnlyList<BufferedRecord> batch, ISinkAcknowledger acks, CancellationToken cancellationToken)
    {
        Acks = acks;
        Interlocked.Increment(ref Batches);
        if (NextResult != SinkSendResult.Sent)
        {
            return ValueTask.FromResult(NextResult);
        }

        foreach (var r in batch)
        {
            _sent.Enqueue(r);
        }

        OnBatch?.Invoke(batch, acks);
        if (AutoAck)
        {
            foreach (var r in ReverseAcks ? batch.Reverse() : batch)
            {
                Ack(r.Sequence);
            }
        }

        return ValueTask.FromResult(SinkSendResult.Sent);
    }

    public void Ack(long sequence)
    {
        _acked.Enqueue(sequence);
        Acks!.Acknowledge(sequence);
    }
}

internal static class LoggerExtensions
{
    public static ILogger<T> For<T>(this TestLoggerProvider logs) => logs.CreateFactory().CreateLogger<T>();
}
