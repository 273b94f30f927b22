using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Mqtt;
using EdgeGateway.Records;
using EdgeGateway.Upstream;
using EdgeGateway.Upstream.Mqtt;
using Microsoft.Extensions.Logging;

// Upstream benchmarks of issue 5, run by bench/run-upstream-bench.sh:
//  1. drain: a backlog of N records (about 200-byte JSON payloads) is written while the broker is down; then
//     Mosquitto starts and we time until the MQTT sink's cursor (moved only by PUBACKs) reaches the last sequence.
//  2. latency: with the link up, records are taken in at a steady rate, each carrying the Stopwatch timestamp taken
//     just before TryWrite; an in-process subscriber stamps the arrival, giving intake -> subscriber latency.
// One Mosquitto (persistence off, no logging) on a free port, started by this program.

var records = IntArg("--records", 1_000_000);
var payloadBytes = IntArg("--payload", 200);
var drainWindow = IntArg("--window", 1000);
var drainBatch = IntArg("--batch", 200);
var mqttInflight = IntArg("--mqtt-inflight", 100);
var count = args.Contains("--count");
var rate = IntArg("--rate", 1000);
var seconds = IntArg("--seconds", 20);
var warmupSeconds = IntArg("--warmup", 2);
var only = StrArg("--only", "all");

using var loggers = LoggerFactory.Create(b => b.AddProvider(new StderrWarnings()).SetMinimumLevel(LogLevel.Warning));
using var metrics = new UpstreamMetrics();
var brokerDir = Directory.CreateTempSubdirectory("eg-upstream-bench-").FullName;
var port = FreePort();
var conf = Path.Combine(brokerDir, "mosquitto.conf");
// The sink's Receive Maximum comes from max_inflight_messages; 1000 leaves the client's MaxInflight in charge.
await File.WriteAllTextAsync(conf, string.Join('\n',
    Environment.UserName == "root" ? "user root" : "",
    $"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "max_queued_messages 0",
    "max_inflight_messages 1000", "log_dest none", ""));
Process? broker = null;
var rows = new List<(string What, string Value)>();
Console.WriteLine($"# {Environment.ProcessorCount} CPUs, .NET {Environment.Version}, {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC, load {LoadAverage()}");
try
{
    if (only is "all" or "drain")
    {
        await DrainAsync();
    }

    if (only is "all" or "latency")
    {
        broker ??= await StartBrokerAsync();
        await LatencyAsync();
    }
}
finally
{
    if (broker is { HasExited: false })
    {
        broker.Kill();
        await broker.WaitForExitAsync();
    }

    broker?.Dispose();
    Directory.Delete(brokerDir, true);
}

Console.WriteLine();
Console.WriteLine($"# load at end {LoadAverage()}");
Console.WriteLine("| Measurement | Result |");
Console.WriteLine("|---|---|");
foreach (var (what, value) in rows)
{
    Console.WriteLine($"| {what} | {value} |");
}

return 0;

async Task DrainAsync()
{
    using var dir = new TempDir();
    var options = new BufferOptions
    {
        DataDirectory = dir.Path,
        MaxBytes = 4L * 1024 * 1024 * 1024,
        MinFreeDiskBytes = 0,
    };
    await using var buffer = new RecordBuffer(options, TimeProvider.System, loggers.CreateLogger<RecordBuffer>());
    buffer.Start();

    // The sink and its forwarder run from the start, against a port where nothing listens yet: the link is down.
    var sinkOptions = SinkOptions("drain", port);
    sinkOptions.MaxInflight = mqttInflight;
    // A fixed 1 s reconnect delay (the shipped InitialDelay) so an in-process counter can subscribe first.
    sinkOptions.Backoff = new MqttBackoffOptions { InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(1), Jitter = 0 };
    await using var sink = new MqttSink(sinkOptions, "gwdrain", TimeProvider.System, loggers, metrics);
    long connectedAt = 0;
    sink.Client.StateChanged += c =>
    {
        if (c.State == MqttConnectionState.Connected)
        {
            Interlocked.CompareExchange(ref connectedAt, Stopwatch.GetTimestamp(), 0);
        }
    };
    var forwarding = new SinkForwardingOptions
    {
        InflightWindow = drainWindow,
        BatchSize = drainBatch,
        MaxRecordsPerSecond = 0,
        MaxBytesPerSecond = 0,
        LiveShare = 0,
        RetryMinDelay = TimeSpan.FromMilliseconds(50),
        RetryMaxDelay = TimeSpan.FromMilliseconds(250),
        AckTimeout = TimeSpan.FromSeconds(60),
    };
    await using var forwarder = new UpstreamForwarder(buffer, sink, forwarding, TimeProvider.System, loggers.CreateLogger<UpstreamForwarder>());
    sink.Start();
    forwarder.Start();

    var first = buffer.CommittedSequence;
    var fill = Stopwatch.StartNew();
    const int Chunk = 16_384; // below IntakeCapacity (65,536): the intake never drops
    for (var n = 0; n < records;)
    {
        var end = Math.Min(records, n + Chunk);
        for (; n < end - 1; n++)
        {
            buffer.TryWrite(Record(n, Stopwatch.GetTimestamp(), payloadBytes));
        }

        var last = await buffer.WriteAsync(Record(n, Stopwatch.GetTimestamp(), payloadBytes));
        n++;
        if (last.Status != CommitStatus.Committed)
        {
            throw new InvalidOperationException($"write {n}: {last.Status}");
        }
    }

    fill.Stop();
    var lastSeq = buffer.CommittedSequence;
    var before = buffer.GetStatus();
    var fileMb = before.FileBytes / 1024.0 / 1024.0;
    Console.WriteLine($"filled {records:N0} records in {fill.Elapsed.TotalSeconds:F1} s, {fileMb:F0} MB, dropped {buffer.IntakeDropped}, " +
        $"cursor {forwarder.Cursor} lag {(before.Sinks.Count > 0 ? before.Sinks[0].LagSequences : -1)}; connected {sink.IsConnected}");
    rows.Add(("drain: backlog written while the broker is down", $"{records:N0} records of {payloadBytes} B payload, {fileMb:F0} MB store, {fill.Elapsed.TotalSeconds:F1} s, {buffer.IntakeDropped} dropped"));

    // The counter (optional) subscribes the moment the broker listens; the sink reconnects up to 1 s later.
    var seen = new bool[lastSeq - first + 1];
    long received = 0, distinct = 0;
    await using var counter = count ? NewSubscriber("drain-counter") : null;
    if (counter is not null)
    {
        counter.MessageReceived = (m, _) =>
        {
            Interlocked.Increment(ref received);
            if (ReadLong(m.Payload.Span, "\"seq\":"u8) is var seq and > 0 && seq > first && seq <= lastSeq && !seen[seq - first])
            {
                seen[seq - first] = true;
                Interlocked.Increment(ref distinct);
            }

            return ValueTask.CompletedTask;
        };
    }

    var rewindsBefore = forwarder.Rewinds;
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var launched = Stopwatch.GetTimestamp();
    broker = await StartBrokerAsync();
    var subscribedBeforeSink = false;
    if (counter is not null)
    {
        await ConnectAndSubscribeAsync(counter, "edge/gwdrain/#");
        subscribedBeforeSink = Interlocked.Read(ref connectedAt) == 0;
    }

    while (forwarder.Cursor < lastSeq)
    {
        if (Stopwatch.GetElapsedTime(launched) > TimeSpan.FromMinutes(10))
        {
            throw new TimeoutException($"drain: cursor {forwarder.Cursor} of {lastSeq} after 10 min");
        }

        await Task.Delay(5);
    }

    var done = Stopwatch.GetTimestamp();
    var cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds;
    broker.Refresh();
    var brokerCpu = broker.TotalProcessorTime.TotalSeconds;
    var fromLaunch = Stopwatch.GetElapsedTime(launched, done).TotalSeconds;
    var fromConnect = Stopwatch.GetElapsedTime(connectedAt, done).TotalSeconds;
    var status = buffer.GetStatus().Sinks.Single(s => s.Sink == "drain");
    Console.WriteLine($"drained: {fromLaunch:F2} s from broker start, {fromConnect:F2} s from CONNACK; status cursor {status.Cursor} lag {status.LagSequences} backlog {status.BacklogRecords}; " +
        $"reconnects {sink.Reconnects}, forwarder rewinds {forwarder.Rewinds - rewindsBefore} after the broker start");
    rows.Add(("drain: broker start -> cursor at last sequence (all PUBACKed)", $"**{fromLaunch:F2} s** ({records / fromLaunch:N0} records/s)"));
    rows.Add(("drain: sink CONNACK -> cursor at last sequence", $"{fromConnect:F2} s ({records / fromConnect:N0} records/s)"));
    rows.Add(("drain: status after", $"lag {status.LagSequences}, backlog {status.BacklogRecords}, reconnects {sink.Reconnects}, forwarder rewinds {forwarder.Rewinds - rewindsBefore} after the broker start"));
    rows.Add(("drain: CPU time while draining", $"bench process {cpu:F1} s ({records / cpu:N0} records/CPU-s; includes the counter if any), mosquitto {brokerCpu:F1} s"));
    rows.Add(("drain: settings", $"Buffer:Sinks InflightWindow {drainWindow}, BatchSize {drainBatch}, MaxRecordsPerSecond 0; Mqtt:MaxInflight {mqttInflight}; QoS 1, MQTT 5"));
    if (counter is not null)
    {
        var wait = Stopwatch.StartNew();
        while (Interlocked.Read(ref distinct) < records && wait.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        rows.Add(("drain: in-process QoS 1 subscriber", $"{Interlocked.Read(ref distinct):N0} distinct of {records:N0}, {Interlocked.Read(ref received):N0} messages" +
            $" (subscribed before the sink connected: {subscribedBeforeSink})"));
    }
    else
    {
        rows.Add(("drain: subscriber", "none (run with --count to add one)"));
    }

    await forwarder.StopAsync();
    await sink.StopAsync();
}

async Task LatencyAsync()
{
    using var dir = new TempDir();
    // Shipped defaults (BatchInterval 20 ms, InflightWindow 1000, BatchSize 200, MaxRecordsPerSecond 2000) except the paths.
    var options = new BufferOptions { DataDirectory = dir.Path, MinFreeDiskBytes = 0 };
    await using var buffer = new RecordBuffer(options, TimeProvider.System, loggers.CreateLogger<RecordBuffer>());
    buffer.Start();
    var total = (warmupSeconds + seconds) * rate;
    var warm = warmupSeconds * rate;
    var latency = new double[total];
    Array.Fill(latency, double.NaN);
    long received = 0;
    await using var sub = NewSubscriber("latency-sub");
    sub.MessageReceived = (m, _) =>
    {
        var now = Stopwatch.GetTimestamp();
        var span = m.Payload.Span;
        var i = ReadLong(span, "\"i\":"u8);
        var t = ReadLong(span, "\"t\":"u8);
        if (i >= 0 && i < total && double.IsNaN(latency[i]))
        {
            latency[i] = Stopwatch.GetElapsedTime(t, now).TotalMilliseconds;
            Interlocked.Increment(ref received);
        }

        return ValueTask.CompletedTask;
    };
    await ConnectAndSubscribeAsync(sub, "edge/gwlat/#");

    var sinkOptions = SinkOptions("latency", port);
    await using var sink = new MqttSink(sinkOptions, "gwlat", TimeProvider.System, loggers, metrics);
    var forwarding = new SinkForwardingOptions();
    await using var forwarder = new UpstreamForwarder(buffer, sink, forwarding, TimeProvider.System, loggers.CreateLogger<UpstreamForwarder>());
    sink.Start();
    var connectWait = Stopwatch.StartNew();
    while (!sink.IsConnected)
    {
        if (connectWait.Elapsed > TimeSpan.FromSeconds(30))
        {
            throw new TimeoutException("latency: sink did not connect");
        }

        await Task.Delay(10);
    }

    forwarder.Start();
    var clock = Stopwatch.StartNew();
    var sent = 0;
    var refused = 0;
    while (sent < total)
    {
        var due = Math.Min(total, (long)(clock.Elapsed.TotalSeconds * rate));
        for (; sent < due; sent++)
        {
            var stamp = Stopwatch.GetTimestamp();
            if (!buffer.TryWrite(Record(sent, stamp, payloadBytes)))
            {
                refused++;
            }
        }

        await Task.Delay(1);
    }

    var produced = clock.Elapsed.TotalSeconds;
    var wait = Stopwatch.StartNew();
    while (Interlocked.Read(ref received) < total && wait.Elapsed < TimeSpan.FromSeconds(30))
    {
        await Task.Delay(20);
    }

    var measured = latency.Skip(warm).ToArray();
    var got = measured.Where(d => !double.IsNaN(d)).Order().ToArray();
    var missing = measured.Length - got.Length;
    Console.WriteLine($"latency: {total} records in {produced:F1} s, {got.Length} measured received, {missing} missing, {refused} refused by TryWrite, " +
        $"intake dropped {buffer.IntakeDropped}");
    rows.Add(("latency: load", $"{rate:N0} records/s for {seconds} s after {warmupSeconds} s warm-up ({measured.Length:N0} measured), {payloadBytes} B payloads, shipped Buffer/Sinks defaults (BatchInterval 20 ms)"));
    if (got.Length > 0)
    {
        rows.Add(("latency: TryWrite -> in-process subscriber, p50 / p90 / p99 / max",
            $"**{Pct(got, 0.50):F1} / {Pct(got, 0.90):F1} / {Pct(got, 0.99):F1} / {got[^1]:F1} ms**"));
    }

    rows.Add(("latency: missing / dropped", $"{missing} not received within 30 s, {buffer.IntakeDropped} intake drops, {sink.Reconnects} reconnects"));
    await forwarder.StopAsync();
    await sink.StopAsync();
}

static double Pct(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

static TelemetryRecord Record(long i, long stamp, int size)
{
    // {"i":N,"t":STAMP,"alt":12.5,"pad":"xx…"} padded to about `size` bytes; 8 streams like a small fleet.
    var head = $"{{\"i\":{i},\"t\":{stamp},\"alt\":12.5,\"bat\":87,\"pad\":\"";
    var pad = Math.Max(0, size - head.Length - 2);
    var payload = Encoding.UTF8.GetBytes(head + new string('x', pad) + "\"}");
    var stream = (i % 8) switch
    {
        < 4 and var d => $"drone/tello-{d}/state",
        var s => $"sensor/s{s}",
    };
    return new TelemetryRecord(stream, i % 8 < 4 ? RecordKind.DroneState : RecordKind.SensorReading, DateTimeOffset.UtcNow, TimeSource.Ntp,
        TimeProvider.System.GetTimestamp(), payload);
}

static long ReadLong(ReadOnlySpan<byte> json, ReadOnlySpan<byte> key)
{
    var at = json.IndexOf(key);
    return at >= 0 && Utf8Parser.TryParse(json[(at + key.Length)..], out long value, out _) ? value : -1;
}

MqttSinkOptions SinkOptions(string name, int brokerPort) => new()
{
    Enabled = true,
    Name = name,
    Port = brokerPort,
    ClientId = $"bench-{name}-{Environment.ProcessId}",
    StatusTopic = "",
    MaxInflight = mqttInflight,
};

MqttClient NewSubscriber(string id) => new(new MqttClientOptions
{
    Port = port,
    ClientId = $"bench-{id}-{Environment.ProcessId}",
    ReceiveMaximum = 1000,
}, loggers.CreateLogger<MqttClient>());

static async Task ConnectAndSubscribeAsync(MqttClient client, string filter)
{
    var sw = Stopwatch.StartNew();
    while (true)
    {
        var c = await client.ConnectAsync();
        if (c.IsConnected)
        {
            break;
        }

        if (sw.Elapsed > TimeSpan.FromSeconds(30))
        {
            throw new InvalidOperationException($"subscriber: {c}");
        }

        await Task.Delay(5);
    }

    var s = await client.SubscribeAsync([new MqttSubscription(filter)]);
    if (s.Status != SubscribeStatus.Completed || s.ReasonCodes[0] >= 0x80)
    {
        throw new InvalidOperationException($"subscribe {filter}: {s.Status} {string.Join(',', s.ReasonCodes)}");
    }
}

async Task<Process> StartBrokerAsync()
{
    var p = Process.Start(new ProcessStartInfo(FindMosquitto(), ["-c", conf]) { UseShellExecute = false })!;
    for (var i = 0; i < 2000; i++)
    {
        try
        {
            using var c = new TcpClient();
            await c.ConnectAsync(IPAddress.Loopback, port);
            return p;
        }
        catch (SocketException)
        {
            await Task.Delay(5);
        }
    }

    throw new InvalidOperationException("mosquitto did not start");
}

static int FreePort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

static string FindMosquitto()
{
    foreach (var d in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Concat(["/usr/sbin", "/usr/local/sbin"]))
    {
        if (d.Length > 0 && File.Exists(Path.Combine(d, "mosquitto")))
        {
            return Path.Combine(d, "mosquitto");
        }
    }

    throw new InvalidOperationException("mosquitto not found: apt-get install -y mosquitto mosquitto-clients");
}

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

int IntArg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length
    ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

string StrArg(string name, string fallback) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;

internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("eg-upstream-bench-buf-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Warnings and errors to stderr (the first 50), so a failing run shows why.</summary>
internal sealed class StderrWarnings : ILoggerProvider, ILogger
{
    private int _written;

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel) && Interlocked.Increment(ref _written) <= 50)
        {
            Console.Error.WriteLine($"[{logLevel}] {eventId.Id} {formatter(state, exception)} {exception?.Message}");
        }
    }

    public void Dispose()
    {
    }
}
