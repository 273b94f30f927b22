using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using EdgeGateway.Drones;
using EdgeGateway.Drones.Tello;
using EdgeGateway.LocalApi;
using EdgeGateway.Records;
using EdgeGateway.Simulator;
using EdgeGateway.Time;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

// Usage:
//   against a running gateway:  dotnet run -c Release --project bench/EdgeGateway.LoadTest -- --url http://127.0.0.1:3002 --pid <gateway pid> --clients 1000 --rate 10 --seconds 20
//     --drone 127.66.0.2:18889 --state-port 18890   also host the drone (the simulator) in this process, so the gateway talks to an
//                                                   independent emulator and emergency is timed to the datagram's arrival there
//     --warmup 10                                   seconds of full load before the measured window
//   Mosquitto's WebSocket fan-out of the same message: ... -- --mqtt-ws ws://127.0.0.1:18883 --pid <mosquitto pid> --clients 1000 --rate 10
//   self-hosted (gateway + simulator in this process): ... -- --self-host --clients 1000 --rate 100 --seconds 20
var cfg = LoadConfig.Parse(args);
await using var drone = cfg.Drone is { } droneAt ? await BenchDrone.StartAsync(droneAt, cfg.StatePort, cfg.Rate) : null;
await using var selfHost = cfg.SelfHost ? await SelfHost.StartAsync(cfg.Rate) : null;
var baseUrl = selfHost?.BaseUrl ?? cfg.Url;
var pid = selfHost is not null ? Environment.ProcessId : cfg.Pid;
var mqtt = cfg.MqttWs is not null;
var wsUri = mqtt
    ? new Uri(cfg.MqttWs!)
    : new Uri(baseUrl.Replace("http://", "ws://", StringComparison.Ordinal).TrimEnd('/') + "/ws" + (cfg.Token is null ? "" : "?token=" + Uri.EscapeDataString(cfg.Token)));
var interval = 1000.0 / cfg.Rate;

Console.WriteLine($"load: {cfg.Clients} {(mqtt ? "MQTT-over-WebSocket" : "WebSocket")} clients -> {wsUri} (state {cfg.Rate} Hz, warm-up {cfg.Warmup} s, {cfg.Seconds} s, measured pid {pid?.ToString(CultureInfo.InvariantCulture) ?? "n/a"})");
var clients = new List<LoadClient>();
using var stop = new CancellationTokenSource();
for (var i = 0; i < cfg.Clients; i++)
{
    var c = new LoadClient(wsUri, interval, mqtt);
    await c.ConnectAsync();
    clients.Add(c);
    if (i % 250 == 249)
    {
        Console.WriteLine($"  {i + 1} connected");
    }
}

var runs = clients.Select(c => c.RunAsync(stop.Token)).ToList();
// Mosquitto has no drone: one publisher sends the same message (a gateway status_update of the same size) at the rate.
var publisher = mqtt ? MqttWsPublisher.RunAsync(wsUri, cfg.Rate, cfg.MessageBytes, stop.Token) : Task.CompletedTask;
await Task.Delay(TimeSpan.FromSeconds(cfg.Warmup)); // warm-up: subscriptions settle, the JIT and the pools reach steady state
foreach (var c in clients)
{
    c.ResetStats();
}

var sampler = pid is { } p ? new ProcSampler(p) : null;
sampler?.Start();
var emergencyLatencies = new List<double>();
var emergencyResponses = new List<double>();
var measure = Stopwatch.StartNew();
using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
if (cfg.Token is not null)
{
    http.DefaultRequestHeaders.Authorization = new("Bearer", cfg.Token);
}

while (measure.Elapsed < TimeSpan.FromSeconds(cfg.Seconds))
{
    await Task.Delay(TimeSpan.FromSeconds(1));
    if (cfg.Emergency && !mqtt)
    {
        var arrival = drone?.ExpectEmergency();
        var sent = Stopwatch.GetTimestamp();
        using var response = await http.PostAsync("/api/drone/execute",
            new StringContent("{\"action\":\"emergency\",\"parameters\":{}}", Encoding.UTF8, "application/json"));
        emergencyResponses.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
        if (arrival is not null && await Task.WhenAny(arrival, Task.Delay(TimeSpan.FromSeconds(5))) == arrival)
        {
            // From the request to the emergency datagram's arrival at the drone's socket (the simulator's receive stamp).
            emergencyLatencies.Add(Stopwatch.GetElapsedTime(sent, arrival.Result).TotalMilliseconds);
        }
    }
}

var elapsed = measure.Elapsed.TotalSeconds;
sampler?.Stop();
stop.Cancel();
await Task.WhenAll(runs.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));
await publisher.ContinueWith(_ => { }, TaskScheduler.Default);

var all = clients.SelectMany(c => c.Latencies).ToArray();
Array.Sort(all);
var delivered = clients.Sum(c => c.Received);
var skipped = clients.Sum(c => c.Gaps);
var closed = clients.Count(c => c.ClosedEarly);
var emergency = emergencyLatencies.Count > 0 ? emergencyLatencies : drone is null ? emergencyResponses : [];
emergency.Sort();
var cpuSeconds = sampler?.CpuSeconds ?? double.NaN;
Console.WriteLine();
Console.WriteLine("| server | clients | state Hz | delivered msg/s | p50 ms | p99 ms | max ms | skipped (superseded) | closed | server CPU % | server µs/msg | load tool µs/msg | server peak RSS MB | emergency p50/p99/max ms (n) |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| {cfg.Label} | {cfg.Clients} | {cfg.Rate} | {delivered / elapsed:0} | {Pct(all, 0.50):0.00} | {Pct(all, 0.99):0.00} | {(all.Length > 0 ? all[^1] : double.NaN):0.00} | {skipped} | {closed} | {sampler?.CpuPercent ?? double.NaN:0.0} | {cpuSeconds * 1e6 / Math.Max(1, delivered):0.0} | {(sampler?.SelfCpuSeconds ?? double.NaN) * 1e6 / Math.Max(1, delivered):0.0} | {sampler?.PeakRssMb ?? double.NaN:0} | {(emergency.Count > 0 ? $"{Pct([.. emergency], 0.5):0.0}/{Pct([.. emergency], 0.99):0.0}/{emergency[^1]:0.0} ({emergency.Count})" : "-")} |"));
if (sampler is not null)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{cfg.Label}: server CPU {sampler.CpuPercent:0.0}% (user {sampler.UserPercent:0.0}%, kernel {sampler.CpuPercent - sampler.UserPercent:0.0}%); load tool CPU {sampler.SelfCpuPercent:0}%; emergency HTTP response p50/max {(emergencyResponses.Count > 0 ? $"{Pct([.. emergencyResponses.Order()], 0.5):0.0}/{emergencyResponses.Max():0.0}" : "-")} ms"));
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"message bytes: {clients.Select(c => c.LastMessageBytes).DefaultIfEmpty(0).Max()}"));
return 0;

static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];

internal sealed record LoadConfig(string Url, int? Pid, int Clients, double Rate, int Seconds, string? Token, bool SelfHost, bool Emergency,
    string? Drone, int StatePort, int Warmup, string? MqttWs, int MessageBytes, string Label)
{
    public static LoadConfig Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        int Int(string name, string fallback) => int.Parse(Get(name, fallback), CultureInfo.InvariantCulture);

        var pid = Get("--pid", "");
        var drone = Get("--drone", "");
        var mqtt = Get("--mqtt-ws", "");
        return new LoadConfig(Get("--url", "http://127.0.0.1:3002"), pid.Length > 0 ? int.Parse(pid, CultureInfo.InvariantCulture) : null,
            Int("--clients", "100"), double.Parse(Get("--rate", "10"), CultureInfo.InvariantCulture),
            Int("--seconds", "20"), args.Contains("--token") ? Get("--token", "") : null,
            args.Contains("--self-host"), args.Contains("--emergency"), drone.Length > 0 ? drone : null, Int("--state-port", "8890"),
            Int("--warmup", "2"), mqtt.Length > 0 ? mqtt : null, Int("--message-bytes", "444"), Get("--label", mqtt.Length > 0 ? "mosquitto" : "gateway"));
    }
}

/// <summary>The drone: the project's simulator in this process (an emulator independent of the gateway under test).</summary>
internal sealed class BenchDrone : IAsyncDisposable
{
    private readonly TelloSimulator _sim;
    private TaskCompletionSource<long>? _emergency;

    private BenchDrone(TelloSimulator sim)
    {
        _sim = sim;
        // On the simulator's receive loop, as the datagram arrives.
        sim.CommandReceived += command =>
        {
            if (command == "emergency")
            {
                Interlocked.Exchange(ref _emergency, null)?.TrySetResult(Stopwatch.GetTimestamp());
            }
        };
    }

    public static async Task<BenchDrone> StartAsync(string commandEndPoint, int statePort, double rate)
    {
        var at = IPEndPoint.Parse(commandEndPoint);
        var sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = at.Address,
            CommandPort = at.Port,
            StatePort = statePort,
            StateInterval = TimeSpan.FromMilliseconds(1000.0 / rate),
            TimeScale = 1,
        });
        await sim.StartAsync();
        return new BenchDrone(sim);
    }

    /// <summary>Completes with the Stopwatch timestamp of the next emergency datagram's arrival.</summary>
    public Task<long> ExpectEmergency()
    {
        var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _emergency, tcs);
        return tcs.Task;
    }

    public ValueTask DisposeAsync() => _sim.DisposeAsync();
}

/// <summary>Minimal MQTT 3.1.1 over WebSocket (subprotocol "mqtt"): CONNECT, SUBSCRIBE QoS 0, PUBLISH QoS 0.</summary>
internal static class MqttWs
{
    public const string Topic = "bench/status";

    public static async Task<ClientWebSocket> ConnectAsync(Uri uri, string clientId)
    {
        var ws = new ClientWebSocket();
        ws.Options.AddSubProtocol("mqtt");
        ws.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        await ws.ConnectAsync(uri, CancellationToken.None);
        var id = Encoding.UTF8.GetBytes(clientId);
        var body = new List<byte> { 0, 4, (byte)'M', (byte)'Q', (byte)'T', (byte)'T', 4, 0x02, 0, 120, (byte)(id.Length >> 8), (byte)id.Length };
        body.AddRange(id);
        await ws.SendAsync(Packet(0x10, [.. body]), WebSocketMessageType.Binary, true, CancellationToken.None);
        return ws;
    }

    public static Task SubscribeAsync(ClientWebSocket ws)
    {
        var topic = Encoding.UTF8.GetBytes(Topic);
        var body = new List<byte> { 0, 1, (byte)(topic.Length >> 8), (byte)topic.Length };
        body.AddRange(topic);
        body.Add(0);
        return ws.SendAsync(Packet(0x82, [.. body]), WebSocketMessageType.Binary, true, CancellationToken.None);
    }

    public static byte[] Publish(ReadOnlySpan<byte> payload)
    {
        var topic = Encoding.UTF8.GetBytes(Topic);
        var body = new byte[2 + topic.Length + payload.Length];
        body[0] = (byte)(topic.Length >> 8);
        body[1] = (byte)topic.Length;
        topic.CopyTo(body, 2);
        payload.CopyTo(body.AsSpan(2 + topic.Length));
        return Packet(0x30, body);
    }

    private static byte[] Packet(byte header, byte[] body)
    {
        var bytes = new List<byte> { header };
        var length = body.Length;
        do
        {
            var b = (byte)(length % 128);
            length /= 128;
            bytes.Add(length > 0 ? (byte)(b | 0x80) : b);
        }
        while (length > 0);
        bytes.AddRange(body);
        return [.. bytes];
    }
}

/// <summary>Publishes a status_update-shaped JSON message of the given size at the rate, stamped with its send time.</summary>
internal static class MqttWsPublisher
{
    public static async Task RunAsync(Uri uri, double rate, int size, CancellationToken ct)
    {
        using var ws = await MqttWs.ConnectAsync(uri, "bench-publisher");
        var period = TimeSpan.FromSeconds(1 / rate);
        var next = Stopwatch.GetTimestamp();
        var drain = DrainAsync(ws, ct);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var now = DateTimeOffset.UtcNow;
                var stamp = (now.ToUnixTimeMilliseconds() + (now.UtcTicks % TimeSpan.TicksPerMillisecond) / (double)TimeSpan.TicksPerMillisecond).ToString("0.000", CultureInfo.InvariantCulture);
                var json = "{\"type\":\"status_update\",\"last_update_unix_ms\":" + stamp + ",\"pad\":\"";
                json += new string('x', Math.Max(0, size - json.Length - 2)) + "\"}";
                await ws.SendAsync(MqttWs.Publish(Encoding.UTF8.GetBytes(json)), WebSocketMessageType.Binary, true, ct);
                next += (long)(period.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }

        await drain.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private static async Task DrainAsync(ClientWebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[1024];
        while (!ct.IsCancellationRequested)
        {
            var r = await ws.ReceiveAsync(buffer, ct);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                return;
            }
        }
    }
}

/// <summary>
/// One subscriber. Latency = receive wall time - the stamp in the message (same machine clock): the gateway's state receive
/// stamp, or the MQTT publisher's send stamp. For MQTT the WebSocket messages are parsed as a stream of MQTT packets.
/// </summary>
internal sealed class LoadClient(Uri uri, double intervalMs, bool mqtt)
{
    private static readonly byte[] Marker = Encoding.UTF8.GetBytes("\"last_update_unix_ms\":");
    private static int s_next;
    private ClientWebSocket _ws = new();
    private readonly List<double> _latencies = new(4096);
    private double _lastStamp;

    public long Received { get; private set; }
    public int LastMessageBytes { get; private set; }
    public long Gaps { get; private set; }
    public bool ClosedEarly { get; private set; }
    public IReadOnlyList<double> Latencies => _latencies;

    public async Task ConnectAsync()
    {
        if (mqtt)
        {
            _ws = await MqttWs.ConnectAsync(uri, "bench-" + Interlocked.Increment(ref s_next).ToString(CultureInfo.InvariantCulture));
            await MqttWs.SubscribeAsync(_ws);
            return;
        }

        _ws.Options.KeepAliveInterval = TimeSpan.FromSeconds(30);
        await _ws.ConnectAsync(uri, CancellationToken.None);
        await _ws.SendAsync("{\"type\":\"subscribe\",\"channel\":\"status_updates\"}"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
    }

    public void ResetStats()
    {
        lock (_latencies)
        {
            _latencies.Clear();
            Received = 0;
            Gaps = 0;
        }
    }

    public async Task RunAsync(CancellationToken ct)
    {
        var buffer = new byte[16384];
        var length = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var r = await _ws.ReceiveAsync(buffer.AsMemory(length), ct);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    ClosedEarly = true;
                    return;
                }

                var now = DateTimeOffset.UtcNow;
                var nowMs = now.ToUnixTimeMilliseconds() + (now.UtcTicks % TimeSpan.TicksPerMillisecond) / (double)TimeSpan.TicksPerMillisecond;
                if (!mqtt)
                {
                    Record(buffer.AsSpan(0, r.Count), nowMs);
                    continue;
                }

                // MQTT packets may span or share WebSocket messages: parse what is complete, keep the rest.
                length += r.Count;
                var at = 0;
                while (TryPacket(buffer.AsSpan(at, length - at), out var type, out var body, out var size))
                {
                    if (type == 3)
                    {
                        var topicLength = (body[0] << 8) | body[1];
                        Record(body[(2 + topicLength)..], nowMs);
                    }

                    at += size;
                }

                buffer.AsSpan(at, length - at).CopyTo(buffer);
                length -= at;
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (WebSocketException)
        {
            ClosedEarly = true;
        }
    }

    private static bool TryPacket(ReadOnlySpan<byte> data, out int type, out ReadOnlySpan<byte> body, out int size)
    {
        type = 0;
        body = default;
        size = 0;
        var remaining = 0;
        var multiplier = 1;
        var i = 1;
        while (true)
        {
            if (i >= data.Length)
            {
                return false;
            }

            remaining += (data[i] & 0x7F) * multiplier;
            multiplier *= 128;
            if ((data[i++] & 0x80) == 0)
            {
                break;
            }
        }

        if (data.Length < i + remaining)
        {
            return false;
        }

        type = data[0] >> 4;
        body = data.Slice(i, remaining);
        size = i + remaining;
        return true;
    }

    private void Record(ReadOnlySpan<byte> span, double nowMs)
    {
        var at = span.IndexOf(Marker);
        if (at < 0 || !Utf8Parser.TryParse(span[(at + Marker.Length)..], out double stamp, out _))
        {
            return;
        }

        lock (_latencies)
        {
            Received++;
            LastMessageBytes = span.Length;
            _latencies.Add(nowMs - stamp);
            if (_lastStamp > 0 && stamp - _lastStamp > intervalMs * 1.5)
            {
                Gaps += (long)Math.Round((stamp - _lastStamp) / intervalMs) - 1;
            }

            _lastStamp = stamp;
        }
    }
}

/// <summary>CPU (utime+stime over wall time, % of one core) and peak RSS from /proc/&lt;pid&gt;.</summary>
internal sealed class ProcSampler(int pid)
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private double _startCpu;
    private double _startUser;
    private double _startSelfCpu;
    private readonly Stopwatch _wall = new();

    public double CpuPercent { get; private set; }
    public double PeakRssMb { get; private set; }
    public double UserPercent { get; private set; }
    public double SelfCpuPercent { get; private set; }
    public double CpuSeconds { get; private set; }
    public double SelfCpuSeconds { get; private set; }

    public void Start()
    {
        _startCpu = ReadCpuSeconds();
        _startUser = ReadCpuSeconds(userOnly: true);
        _startSelfCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        _wall.Start();
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                PeakRssMb = Math.Max(PeakRssMb, RssMb());
                await Task.Delay(200);
            }
        });
    }

    public void Stop()
    {
        _stop.Cancel();
        _loop?.Wait();
        CpuSeconds = ReadCpuSeconds() - _startCpu;
        CpuPercent = CpuSeconds / _wall.Elapsed.TotalSeconds * 100;
        UserPercent = (ReadCpuSeconds(userOnly: true) - _startUser) / _wall.Elapsed.TotalSeconds * 100;
        SelfCpuSeconds = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - _startSelfCpu;
        SelfCpuPercent = SelfCpuSeconds / _wall.Elapsed.TotalSeconds * 100;
        PeakRssMb = Math.Max(PeakRssMb, RssMb());
    }

    private double ReadCpuSeconds(bool userOnly = false)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // utime and stime are fields 14 and 15 (1-based); after the comm field they are at 11 and 12.
        var user = double.Parse(fields[11], CultureInfo.InvariantCulture);
        return (userOnly ? user : user + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
    }

    private double RssMb()
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
            }
        }

        return double.NaN;
    }
}

/// <summary>The simulator, the real drone link and the local API in this process, on loopback.</summary>
internal sealed class SelfHost : IAsyncDisposable
{
    private TelloSimulator _sim = null!;
    private TelloFleet _fleet = null!;
    private WebApplication _app = null!;

    public string BaseUrl { get; private set; } = "";

    public static async Task<SelfHost> StartAsync(double rate)
    {
        var h = new SelfHost();
        var statePort = FreeUdpPort();
        h._sim = new TelloSimulator(new TelloSimulatorOptions
        {
            Address = IPAddress.Parse("127.0.0.31"),
            CommandPort = 0,
            StatePort = statePort,
            StateInterval = TimeSpan.FromMilliseconds(1000.0 / rate),
            TimeScale = 1,
        });
        await h._sim.StartAsync();
        var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddConsole());
        h._fleet = new TelloFleet(new DroneOptions
        {
            Items = [new DroneEndpointOptions { Id = "tello-1", Address = h._sim.CommandEndPoint.ToString() }],
            LocalAddress = "127.0.0.1",
            CommandPort = 0,
            StatePort = statePort,
        }, new RecordIntake(100_000), new SystemWallClock(TimeProvider.System), TimeProvider.System, loggers);
        await h._fleet.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders().AddConsole().SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddSingleton<IDroneFleet>(h._fleet);
        builder.Configuration["LocalApi:Limits:MaxConnections"] = "5000";
        builder.Services.AddLocalApi(builder.Configuration.GetSection("LocalApi"));
        h._app = builder.Build();
        h._app.MapLocalApi();
        await h._app.StartAsync();
        h.BaseUrl = h._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return h;
    }

    private static int FreeUdpPort()
    {
        using var s = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        s.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)s.LocalEndPoint!).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _fleet.DisposeAsync();
        await _sim.DisposeAsync();
    }
}
