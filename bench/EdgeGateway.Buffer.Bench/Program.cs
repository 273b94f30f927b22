using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Records;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Buffer.Bench;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args is ["crash-writer", var dir, ..])
        {
            return await CrashWriter.RunAsync(dir).ConfigureAwait(false);
        }

        var quick = args.Contains("--quick");
        var appendOnly = args.Contains("--append-only");
        var root = Path.Combine(Path.GetTempPath(), $"eg-buffer-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(root);
        var rows = new List<(string Name, string Value, string Target)>();
        try
        {
            var n = quick ? 50_000 : 300_000;
            var batchSize = ArgValue(args, "--batch") ?? new BufferOptions().BatchSize;
            var warmUp = ArgValue(args, "--warmup") ?? (quick ? 20_000 : 100_000);
            var normal = await AppendAsync(Path.Combine(root, "normal"), n, Durability.Normal, batchSize, warmUp).ConfigureAwait(false);
            rows.Add(("append, 200 B, NORMAL", $"{normal.Rate:N0} records/s ({n:N0} records, {normal.Drops} dropped)", ">= 100,000 records/s"));
            rows.Add(("append, NORMAL, per CPU-second of the process", $"{normal.PerCpuSecond:N0} records/CPU-s", "-"));
            rows.Add(("commit p99, NORMAL", $"{normal.P99 * 1000:0.0} ms (max {normal.Max * 1000:0.0} ms, {normal.Commits} commits of <= {batchSize})", "< 50 ms"));
            rows.Add(("WAL checkpoints, NORMAL", $"{normal.Checkpoints}, longest {normal.CheckpointMax * 1000:0.0} ms", "-"));
            var nf = quick ? 20_000 : 100_000;
            var full = await AppendAsync(Path.Combine(root, "full"), nf, Durability.Full, batchSize, warmUp).ConfigureAwait(false);
            rows.Add(("append, 200 B, FULL", $"{full.Rate:N0} records/s ({nf:N0} records, {full.Drops} dropped)", "-"));
            rows.Add(("commit p99, FULL", $"{full.P99 * 1000:0.0} ms (max {full.Max * 1000:0.0} ms, {full.Commits} commits)", "-"));
            rows.Add(("append, FULL, per CPU-second of the process", $"{full.PerCpuSecond:N0} records/CPU-s", "-"));
            if (appendOnly)
            {
                Print(rows);
                return 0;
            }

            var big = quick ? 200_000 : 1_000_000;
            var (rssGrowth, fillSeconds) = await FillAsync(Path.Combine(root, "big"), big).ConfigureAwait(false);
            rows.Add(($"peak RSS growth, empty -> {big:N0} backlog", $"{rssGrowth / 1024.0 / 1024.0:0.0} MB (fill {fillSeconds:0.0} s)", "< 20 MB"));
            var (readyMs, readyPath) = await TimeToReadyAsync(Path.Combine(root, "big")).ConfigureAwait(false);
            rows.Add(($"time to ready, {big:N0} backlog", $"{readyMs:0} ms ({readyPath})", "< 1000 ms"));
            var (readRate, fwdRate) = await ReplayAsync(Path.Combine(root, "big"), quick ? 200_000 : 1_000_000).ConfigureAwait(false);
            rows.Add(("replay read (store scan, 1000/page)", $"{readRate:N0} records/s", "-"));
            rows.Add(("replay through forwarder, instant-ack sink", $"{fwdRate:N0} records/s", "-"));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }

        Print(rows);
        return 0;
    }

    private static void Print(List<(string Name, string Value, string Target)> rows)
    {
        Console.WriteLine();
        Console.WriteLine($"EdgeGateway.Buffer benchmarks ({Environment.ProcessorCount} cores, {RuntimeInformationText()})");
        Console.WriteLine();
        Console.WriteLine("| Measurement | Result | Target |");
        Console.WriteLine("|---|---|---|");
        foreach (var (name, value, target) in rows)
        {
            Console.WriteLine($"| {name} | {value} | {target} |");
        }

        Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
    }

    private static string RuntimeInformationText()
        => $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}";

    internal static byte[] Payload(long n)
    {
        // 200 bytes of JSON, like a Tello state record.
        var head = $"{{\"n\":{n},\"pitch\":0,\"roll\":0,\"yaw\":12,\"vgx\":0,\"vgy\":0,\"vgz\":0,\"templ\":60,\"temph\":62,\"tof\":10,\"h\":0,\"bat\":87,\"baro\":1.25,\"time\":0,\"agx\":1.0,\"agy\":2.0,\"agz\":-999.0,\"pad\":\"";
        var sb = new StringBuilder(head);
        while (sb.Length < 198)
        {
            sb.Append('x');
        }

        sb.Append("\"}");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    internal static BufferOptions Options(string dir, Durability durability, int intake = 1 << 20) => new()
    {
        DataDirectory = dir,
        MaxBytes = 4L * 1024 * 1024 * 1024,
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

    private static int? ArgValue(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : null;
    }

    private sealed record AppendResult(double Rate, double P99, double Max, int Commits, long Drops, double PerCpuSecond, int Checkpoints, double CheckpointMax);

    private static async Task<AppendResult> AppendAsync(string dir, int n, Durability durability, int batchSize, int warmUp)
    {
        var latencies = new List<double>();
        var checkpoints = new List<double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == BufferMetrics.MeterName && i.Name is "edge_buffer_commit_duration_seconds" or "edge_buffer_checkpoint_duration_seconds")
            {
                l.EnableMeasurementEvents(i);
            }
        };
        listener.SetMeasurementEventCallback<double>((i, v, _, _) =>
        {
            lock (latencies)
            {
                (i.Name == "edge_buffer_commit_duration_seconds" ? latencies : checkpoints).Add(v);
            }
        });
        listener.Start();
        var payload = Payload(1);
        var records = Enumerable.Range(0, 8).Select(i => $"drone/tello-{i}/state").ToArray();
        if (warmUp > 0)
        {
            // The daemon runs for days: measure the steady state, not the JIT compiling the write path.
            await using var warm = new RecordBuffer(Options(dir + "-warmup", durability), TimeProvider.System, NullLogger<RecordBuffer>.Instance);
            warm.Start();
            var warmStart = warm.CommittedSequence;
            for (var i = 0; i < warmUp; i++)
            {
                warm.TryWrite(new TelemetryRecord(records[i & 7], RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp, Stopwatch.GetTimestamp(), payload));
            }

            await warm.WaitForCommittedAsync(warmStart + warmUp - warm.IntakeDropped).ConfigureAwait(false);
            await warm.StopAsync().ConfigureAwait(false);
            lock (latencies)
            {
                latencies.Clear();
                checkpoints.Clear();
            }
        }

        var options = Options(dir, durability);
        options.BatchSize = batchSize;
        await using var buffer = new RecordBuffer(options, TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        var start = buffer.CommittedSequence;
        var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < n; i++)
        {
            buffer.TryWrite(new TelemetryRecord(records[i & 7], RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp, Stopwatch.GetTimestamp(), payload));
        }

        await buffer.WaitForCommittedAsync(start + n - buffer.IntakeDropped).ConfigureAwait(false);
        sw.Stop();
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        lock (latencies)
        {
            latencies.Sort();
            var p99 = latencies.Count == 0 ? 0 : latencies[(int)Math.Min(latencies.Count - 1, Math.Ceiling(latencies.Count * 0.99) - 1)];
            return new AppendResult((n - buffer.IntakeDropped) / sw.Elapsed.TotalSeconds, p99, latencies.Count == 0 ? 0 : latencies[^1], latencies.Count,
                buffer.IntakeDropped, (n - buffer.IntakeDropped) / cpu, checkpoints.Count, checkpoints.Count == 0 ? 0 : checkpoints.Max());
        }
    }

    private static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    private static async Task<(long Growth, double Seconds)> FillAsync(string dir, int n)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var payload = Payload(1);
        await using var buffer = new RecordBuffer(Options(dir, Durability.Normal, intake: 65536), TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        // One sink that never acknowledges: the whole store is its backlog.
        var baseline = Rss();
        long peak = baseline;
        using var sampler = new Timer(_ => Interlocked.Exchange(ref peak, Math.Max(Interlocked.Read(ref peak), Rss())), null, 0, 50);
        var sw = Stopwatch.StartNew();
        var start = buffer.CommittedSequence;
        for (var i = 0; i < n; i++)
        {
            // Pace the producer on the committed watermark so the intake, not the test, bounds memory.
            if ((i & 4095) == 0 && i - (buffer.CommittedSequence - start) > 32768)
            {
                await buffer.WaitForCommittedAsync(start + i - 16384).ConfigureAwait(false);
            }

            buffer.TryWrite(new TelemetryRecord("drone/tello-1/state", RecordKind.DroneState, DateTimeOffset.UtcNow, TimeSource.Ntp, Stopwatch.GetTimestamp(), payload));
        }

        await buffer.WaitForCommittedAsync(start + n - buffer.IntakeDropped).ConfigureAwait(false);
        sw.Stop();
        peak = Math.Max(peak, Rss());
        return (peak - baseline, sw.Elapsed.TotalSeconds);
    }

    private static async Task<(double Ms, string Check)> TimeToReadyAsync(string dir)
    {
        var sw = Stopwatch.StartNew();
        await using var buffer = new RecordBuffer(Options(dir, Durability.Normal), TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        sw.Stop();
        return (sw.Elapsed.TotalMilliseconds, $"IsReady={buffer.IsReady}, quick_check time box {buffer.Options.IntegrityCheckTimeout.TotalMilliseconds} ms");
    }

    private static async Task<(double ScanRate, double ForwardRate)> ReplayAsync(string dir, int n)
    {
        var path = Options(dir, Durability.Normal).DatabasePath;
        var sw = Stopwatch.StartNew();
        long read = 0;
        using (var conn = RecordStore.OpenReader(path))
        {
            long after = 0;
            while (true)
            {
                var page = RecordStore.ReadAfter(conn, after, long.MaxValue, 1000);
                if (page.Count == 0)
                {
                    break;
                }

                read += page.Count;
                after = page[^1].Sequence;
            }
        }

        var scanRate = read / sw.Elapsed.TotalSeconds;

        await using var buffer = new RecordBuffer(Options(dir, Durability.Normal), TimeProvider.System, NullLogger<RecordBuffer>.Instance);
        buffer.Start();
        var sink = new InstantAckSink();
        var opts = new SinkForwardingOptions { MaxRecordsPerSecond = 0, InflightWindow = 10_000, BatchSize = 1000, LiveShare = 0 };
        await using var forwarder = new UpstreamForwarder(buffer, sink, opts, TimeProvider.System, NullLogger<UpstreamForwarder>.Instance);
        sw.Restart();
        forwarder.Start();
        var target = buffer.CommittedSequence;
        while (forwarder.Cursor < target)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        return (scanRate, sink.Count / sw.Elapsed.TotalSeconds);
    }

    private sealed class InstantAckSink : IUpstreamSink
    {
        public long Count;

        public string Name => "bench";

        public ValueTask<SinkSendResult> SendAsync(IReadOnlyList<BufferedRecord> batch, ISinkAcknowledger acks, CancellationToken cancellationToken)
        {
            foreach (var r in batch)
            {
                acks.Acknowledge(r.Sequence);
            }

            Count += batch.Count;
            return ValueTask.FromResult(SinkSendResult.Sent);
        }
    }
}
