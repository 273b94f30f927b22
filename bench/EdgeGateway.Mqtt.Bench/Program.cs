using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using EdgeGateway.Mqtt;

// Usage: EdgeGateway.Mqtt.Bench --mosq PATH_TO_bench_mosq [--n 100000] [--reps 5] [--windows 1,20,100] [--sizes 64,1024]
// Starts its own mosquitto (persistence off, no logging), then for each (size, window) runs the C reference and this
// client alternately, --reps times each, and prints medians, min/max and the ratio. Same method as bench_mosq.c:
// at most W unacknowledged QoS 1 PUBLISHes, clean session, time from the first publish to the last PUBACK.
var settings = ParseArgs(args);
var n = int.Parse(settings.GetValueOrDefault("n", "100000"), CultureInfo.InvariantCulture);
var reps = int.Parse(settings.GetValueOrDefault("reps", "5"), CultureInfo.InvariantCulture);
var windows = settings.GetValueOrDefault("windows", "1,20,100").Split(',').Select(int.Parse).ToArray();
var sizes = settings.GetValueOrDefault("sizes", "64,1024").Split(',').Select(int.Parse).ToArray();
var mosq = settings.GetValueOrDefault("mosq");
if (mosq is null || !File.Exists(mosq))
{
    Console.Error.WriteLine("--mosq PATH (the compiled bench_mosq) is required; bench/mqtt-bench.sh builds it");
    return 2;
}

var dir = Directory.CreateTempSubdirectory("mqtt-bench-").FullName;
var port = FreePort();
var conf = Path.Combine(dir, "bench.conf");
await File.WriteAllTextAsync(conf, string.Join('\n',
    Environment.UserName == "root" ? "user root" : "",
    $"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false", "max_queued_messages 0",
    "max_inflight_messages 1000", "log_dest none", ""));
using var broker = Process.Start(new ProcessStartInfo(FindMosquitto(), ["-c", conf]) { UseShellExecute = false })!;
try
{
    await WaitForPortAsync(port);
    Console.WriteLine($"# {Environment.ProcessorCount} CPUs, .NET {Environment.Version}, N={n}, reps={reps}, QoS 1, MQTT 3.1.1, clean session, no subscriber");
    Console.WriteLine("| payload | window | libmosquitto msg/s (median, min-max) | EdgeGateway.Mqtt msg/s (median, min-max) | ratio |");
    Console.WriteLine("|---|---|---|---|---|");
    // Warm-up so JIT tiering does not count against the first measured run.
    await RunOursAsync(port, Math.Min(n, 20_000), 20, 64);
    foreach (var size in sizes)
    {
        foreach (var window in windows)
        {
            var c = new List<double>();
            var cs = new List<double>();
            for (var r = 0; r < reps; r++)
            {
                c.Add(await RunCAsync(mosq, port, n, window, size));
                cs.Add(await RunOursAsync(port, n, window, size));
            }

            Console.WriteLine($"| {size} B | {window} | {Median(c):0} ({c.Min():0}-{c.Max():0}) | {Median(cs):0} ({cs.Min():0}-{cs.Max():0}) | {Median(cs) / Median(c):0.00} |");
        }
    }
}
finally
{
    broker.Kill();
    await broker.WaitForExitAsync();
    Directory.Delete(dir, true);
}

return 0;

static async Task<double> RunOursAsync(int port, int n, int window, int size)
{
    var options = new MqttClientOptions
    {
        Host = "127.0.0.1", Port = port, ClientId = "bench-cs", ProtocolVersion = MqttProtocolVersion.V311, CleanStart = true,
        KeepAlive = TimeSpan.FromSeconds(60), MaxInflight = window, MaxPending = Math.Max(window, 1),
    };
    await using var client = new MqttClient(options);
    var connect = await client.ConnectAsync();
    if (!connect.IsConnected)
    {
        throw new InvalidOperationException(connect.ToString());
    }

    var payload = new byte[size];
    Array.Fill(payload, (byte)'0');
    using var slots = new SemaphoreSlim(window, window);
    var acked = 0;
    var failed = 0;
    var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    var start = Stopwatch.GetTimestamp();
    for (var i = 0; i < n; i++)
    {
        await slots.WaitAsync();
        _ = One();
    }

    await done.Task;
    var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
    if (failed > 0)
    {
        throw new InvalidOperationException($"{failed} publishes were not acknowledged");
    }

    return n / seconds;

    async Task One()
    {
        var result = await client.PublishAsync("bench/cs", payload);
        if (result.Status != PublishStatus.Acknowledged)
        {
            Interlocked.Increment(ref failed);
        }

        slots.Release();
        if (Interlocked.Increment(ref acked) == n)
        {
            done.SetResult();
        }
    }
}

static async Task<double> RunCAsync(string binary, int port, int n, int window, int size)
{
    using var p = Process.Start(new ProcessStartInfo(binary,
        [n.ToString(CultureInfo.InvariantCulture), window.ToString(CultureInfo.InvariantCulture), port.ToString(CultureInfo.InvariantCulture), size.ToString(CultureInfo.InvariantCulture)])
    {
        RedirectStandardOutput = true,
        UseShellExecute = false,
    })!;
    var output = await p.StandardOutput.ReadToEndAsync();
    await p.WaitForExitAsync();
    var match = Regex.Match(output, @"([0-9.]+) msg/s");
    return p.ExitCode == 0 && match.Success
        ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
        : throw new InvalidOperationException($"bench_mosq failed ({p.ExitCode}): {output}");
}

static double Median(List<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

static Dictionary<string, string> ParseArgs(string[] args)
{
    var result = new Dictionary<string, string>();
    for (var i = 0; i + 1 < args.Length; i += 2)
    {
        result[args[i].TrimStart('-')] = args[i + 1];
    }

    return result;
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

static async Task WaitForPortAsync(int port)
{
    for (var i = 0; i < 100; i++)
    {
        try
        {
            using var c = new TcpClient();
            await c.ConnectAsync(IPAddress.Loopback, port);
            return;
        }
        catch (SocketException)
        {
            await Task.Delay(50);
        }
    }

    throw new InvalidOperationException("mosquitto did not start");
}
