using System.Diagnostics;
using System.Globalization;
using System.Text;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Nmea;
using EdgeGateway.Sensors.Serial;
using EdgeGateway.Sensors.Tfmini;
using EdgeGateway.Simulator.Serial;

// Usage: dotnet run -c Release --project bench/EdgeGateway.Sensors.Bench [-- seconds-for-serial-run]
var serialSeconds = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
var rows = new List<(string Name, string Throughput, string PerItem, string Alloc)>();

// A realistic 1 Hz epoch: RMC, VTG, GGA, GSA, 3 × GSV.
var gps = new SimulatedGps(new DelegatePositionSource(() => (1234, -567, 890)));
var epoch = gps.Epoch(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero));
var sentences = epoch.Select(s => Encoding.ASCII.GetBytes(s.TrimEnd())).ToArray();
// 100 distinct epochs, so the driver also completes epochs and builds readings.
var stream = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 100).SelectMany(i => gps.Epoch(new DateTimeOffset(2026, 1, 1, 12, 0, 0, TimeSpan.Zero).AddSeconds(i)))));

rows.Add(Measure("NMEA parse (NmeaParser.Parse)", "sentences", 2_000_000, n =>
{
    var ok = 0;
    for (var i = 0; i < n; i++)
    {
        if (NmeaParser.Parse(sentences[i % sentences.Length], out _) == NmeaParseResult.Ok)
        {
            ok++;
        }
    }

    return ok;
}));

var nmeaDriver = new NmeaGpsDriver();
var sink = new CountingSink();
rows.Add(Measure("NMEA driver (framing+parse+epochs)", "sentences", 1_000_000, n =>
{
    var passes = n / (sentences.Length * 100);
    for (var i = 0; i < passes; i++)
    {
        nmeaDriver.Push(stream, sink);
    }

    return passes * sentences.Length * 100;
}));

var frame = SimulatedTfmini.Encode(1234, 2000, 40);
var frames = Enumerable.Repeat(frame, 64).SelectMany(f => f).ToArray();
var decoder = new TfminiFrameDecoder();
var frameSink = new FrameSink();
rows.Add(Measure("TFmini decode (TfminiFrameDecoder)", "frames", 10_000_000, n =>
{
    var chunks = n / 64;
    for (var i = 0; i < chunks; i++)
    {
        decoder.Push(frames, frameSink);
    }

    return chunks * 64;
}));

var tfDriver = new TfminiDriver();
rows.Add(Measure("TFmini driver (decode+reading object)", "frames", 2_000_000, n =>
{
    var chunks = n / 64;
    for (var i = 0; i < chunks; i++)
    {
        tfDriver.Push(frames, sink);
    }

    return chunks * 64;
}));

Console.WriteLine($"{"benchmark",-40} {"throughput",-22} {"time/item",-12} {"alloc/item",-10}");
Console.WriteLine(new string('-', 88));
foreach (var r in rows)
{
    Console.WriteLine($"{r.Name,-40} {r.Throughput,-22} {r.PerItem,-12} {r.Alloc,-10}");
}

Console.WriteLine();
Console.WriteLine($"Serial read path: NMEA at 115200 baud (11520 bytes/s) through a pty for {serialSeconds} s each run");
var baseline = await SerialRun(serialSeconds, withReader: false);
var reading = await SerialRun(serialSeconds, withReader: true);
Console.WriteLine($"{"run",-40} {"CPU % of one core",-18} {"bytes read",-12} {"readings",-10}");
Console.WriteLine(new string('-', 88));
Console.WriteLine($"{"writer only (baseline)",-40} {baseline.CpuPercent,-18:F2} {"-",-12} {"-",-10}");
Console.WriteLine($"{"writer + SerialPortStream + NMEA driver",-40} {reading.CpuPercent,-18:F2} {reading.Bytes,-12} {reading.Readings,-10}");
Console.WriteLine($"{"=> read path",-40} {reading.CpuPercent - baseline.CpuPercent,-18:F2}");
return 0;

static (string, string, string, string) Measure(string name, string unit, int n, Func<int, int> body)
{
    body(n / 10); // warm up (tiered JIT)
    GC.Collect();
    var before = GC.GetAllocatedBytesForCurrentThread();
    var sw = Stopwatch.StartNew();
    var done = body(n);
    sw.Stop();
    var alloc = GC.GetAllocatedBytesForCurrentThread() - before;
    return (name,
        $"{done / sw.Elapsed.TotalSeconds / 1e6:F2} M {unit}/s",
        $"{sw.Elapsed.TotalNanoseconds / done:F0} ns",
        $"{(double)alloc / done:F1} B");
}

static async Task<(double CpuPercent, long Bytes, long Readings)> SerialRun(int seconds, bool withReader)
{
    using var pty = PseudoTerminal.Open();
    var gps = new SimulatedGps(new DelegatePositionSource(() => (0, 0, 0)));
    var data = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Range(0, 200).SelectMany(i => gps.Epoch(DateTimeOffset.UnixEpoch.AddSeconds(i)))));
    SerialPortStream? port = null;
    var sink = new CountingSink();
    using var stop = new CancellationTokenSource();
    Task? reader = null;
    if (withReader)
    {
        port = SerialPortStream.TryOpen(pty.SlavePath, new SerialSettings(115200), out var failure) ?? throw new IOException(failure!.Message);
        reader = new NmeaGpsDriver().RunAsync(port, sink, stop.Token);
    }

    // 115200 baud 8N1 = 11520 bytes/s, written every 10 ms like a UART's FIFO draining.
    const int chunk = 115;
    var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
    var sw = Stopwatch.StartNew();
    var offset = 0;
    var next = TimeSpan.Zero;
    while (sw.Elapsed < TimeSpan.FromSeconds(seconds))
    {
        var n = Math.Min(chunk, data.Length - offset);
        pty.Write(data.AsSpan(offset, n));
        offset = (offset + n) % data.Length;
        next += TimeSpan.FromMilliseconds(10);
        var wait = next - sw.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait);
        }
    }

    var cpu = Process.GetCurrentProcess().TotalProcessorTime - cpuBefore;
    var elapsed = sw.Elapsed;
    await stop.CancelAsync();
    if (reader is not null)
    {
        try
        {
            await reader;
        }
        catch (OperationCanceledException)
        {
        }
    }

    var bytes = port?.BytesRead ?? 0;
    port?.Dispose();
    return (cpu.TotalMilliseconds / elapsed.TotalMilliseconds * 100, bytes, sink.Readings);
}

internal sealed class CountingSink : ISensorSink
{
    public long Readings;
    public long Rejected;

    public void OnReading(SensorReading reading) => Readings++;

    public void OnRejected(string reason) => Rejected++;

    public void OnIgnored(string reason)
    {
    }
}

internal sealed class FrameSink : ITfminiFrameHandler
{
    public long Frames;

    public void OnFrame(in TfminiFrame frame) => Frames++;

    public void OnBadChecksum()
    {
    }
}
