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
//   self-hosted (gateway + simulator in this process): ... -- --self-host --clients 1000 --rate 100 --seconds 20
var cfg = LoadConfig.Parse(args);
await using var selfHost = cfg.SelfHost ? await SelfHost.StartAsync(cfg.Rate) : null;
var baseUrl = selfHost?.BaseUrl ?? cfg.Url;
var pid = selfHost is not null ? Environment.ProcessId : cfg.Pid;
var wsUri = new Uri(baseUrl.Replace("http://", "ws://", StringComparison.Ordinal).TrimEnd('/') + "/ws" + (cfg.Token is null ? "" : "?token=" + Uri.EscapeDataString(cfg.Token)));
var interval = 1000.0 / cfg.Rate;

Console.WriteLine($"load: {cfg.Clients} clients -> {wsUri} (state {cfg.Rate} Hz, {cfg.Seconds} s, gateway pid {pid?.ToString(CultureInfo.InvariantCulture) ?? "n/a"})");
var clients = new List<LoadClient>();
using var stop = new CancellationTokenSource();
for (var i = 0; i < cfg.Clients; i++)
{
    var c = new LoadClient(wsUri, interval);
    await c.ConnectAsync();
    clients.Add(c);
    if (i % 100 == 99)
    {
        Console.WriteLine($"  {i + 1} connected");
    }
}

var runs = clients.Select(c => c.RunAsync(stop.Token)).ToList();
await Task.Delay(TimeSpan.FromSeconds(2)); // warm-up: subscriptions settle
foreach (var c in clients)
{
    c.ResetStats();
}

var sampler = pid is { } p ? new ProcSampler(p) : null;
sampler?.Start();
var emergencyLatencies = new List<double>();
var measure = Stopwatch.StartNew();
using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
if (cfg.Token is not null)
{
    http.DefaultRequestHeaders.Authorization = new("Bearer", cfg.Token);
}

while (measure.Elapsed < TimeSpan.FromSeconds(cfg.Seconds))
{
    await Task.Delay(TimeSpan.FromSeconds(2));
    if (cfg.Emergency)
    {
        var sw = Stopwatch.StartNew();
        using var response = await http.PostAsync("/api/drone/execute",
            new StringContent("{\"action\":\"emergency\",\"parameters\":{}}", Encoding.UTF8, "application/json"));
        emergencyLatencies.Add(sw.Elapsed.TotalMilliseconds);
    }
}

var elapsed = measure.Elapsed.TotalSeconds;
sampler?.Stop();
stop.Cancel();
await Task.WhenAll(runs.Select(r => r.ContinueWith(_ => { }, TaskScheduler.Default)));

var all = clients.SelectMany(c => c.Latencies).ToArray();
Array.Sort(all);
var delivered = clients.Sum(c => c.Received);
var drops = clients.Sum(c => c.Gaps);
var closed = clients.Count(c => c.ClosedEarly);
Console.WriteLine();
Console.WriteLine("| clients | state Hz | delivered msg/s | p50 ms | p99 ms | max ms | drops (gaps) | closed | gateway CPU % | gateway peak RSS MB | emergency p50/max ms |");
Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"| {cfg.Clients} | {cfg.Rate} | {delivered / elapsed:0} | {Pct(all, 0.50):0.00} | {Pct(all, 0.99):0.00} | {(all.Length > 0 ? all[^1] : double.NaN):0.00} | {drops} | {closed} | {sampler?.CpuPercent ?? double.NaN:0} | {sampler?.PeakRssMb ?? double.NaN:0} | {(emergencyLatencies.Count > 0 ? $"{Pct([.. emergencyLatencies.Order()], 0.5):0.0}/{emergencyLatencies.Max():0.0}" : "-")} |"));
if (sampler is not null)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"gateway CPU {sampler.CpuPercent:0}% (user {sampler.UserPercent:0}%, kernel {sampler.CpuPercent - sampler.UserPercent:0}%); load tool CPU {sampler.SelfCpuPercent:0}%"));
}

return 0;

static double Pct(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(sorted.Length * p))];

internal sealed record LoadConfig(string Url, int? Pid, int Clients, double Rate, int Seconds, string? Token, bool SelfHost, bool Emergency)
{
    public static LoadConfig Parse(string[] args)
    {
        string Get(string name, string fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var pid = Get("--pid", "");
        return new LoadConfig(Get("--url", "http://127.0.0.1:3002"), pid.Length > 0 ? int.Parse(pid, CultureInfo.InvariantCulture) : null,
            int.Parse(Get("--clients", "100"), CultureInfo.InvariantCulture), double.Parse(Get("--rate", "10"), CultureInfo.InvariantCulture),
            int.Parse(Get("--seconds", "20"), CultureInfo.InvariantCulture), args.Contains("--token") ? Get("--token", "") : null,
            args.Contains("--self-host"), args.Contains("--emergency"));
    }
}

/// <summary>One subscriber. Latency = receive wall time - the state's receive time stamped by the gateway (same machine clock).</summary>
internal sealed class LoadClient(Uri uri, double intervalMs)
{
    private static readonly byte[] Marker = Encoding.UTF8.GetBytes("\"last_update_unix_ms\":");
    private readonly ClientWebSocket _ws = new();
    private readonly List<double> _latencies = new(4096);
    private double _lastStamp;

    public long Received { get; private set; }
    public long Gaps { get; private set; }
    public bool ClosedEarly { get; private set; }
    public IReadOnlyList<double> Latencies => _latencies;

    public async Task ConnectAsync()
    {
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
        var buffer = new byte[8192];
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var r = await _ws.ReceiveAsync(buffer, ct);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    ClosedEarly = true;
                    return;
                }

                var now = DateTimeOffset.UtcNow;
                var nowMs = now.ToUnixTimeMilliseconds() + (now.UtcTicks % TimeSpan.TicksPerMillisecond) / (double)TimeSpan.TicksPerMillisecond;
                var span = buffer.AsSpan(0, r.Count);
                var at = span.IndexOf(Marker);
                if (at < 0 || !Utf8Parser.TryParse(span[(at + Marker.Length)..], out double stamp, out _))
                {
                    continue;
                }

                lock (_latencies)
                {
                    Received++;
                    _latencies.Add(nowMs - stamp);
                    if (_lastStamp > 0 && stamp - _lastStamp > intervalMs * 1.5)
                    {
                        Gaps += (long)Math.Round((stamp - _lastStamp) / intervalMs) - 1;
                    }

                    _lastStamp = stamp;
                }
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

    public void Start()
    {
        _startCpu = CpuSeconds();
        _startUser = CpuSeconds(userOnly: true);
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
        CpuPercent = (CpuSeconds() - _startCpu) / _wall.Elapsed.TotalSeconds * 100;
        UserPercent = (CpuSeconds(userOnly: true) - _startUser) / _wall.Elapsed.TotalSeconds * 100;
        SelfCpuPercent = (Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - _startSelfCpu) / _wall.Elapsed.TotalSeconds * 100;
        PeakRssMb = Math.Max(PeakRssMb, RssMb());
    }

    private double CpuSeconds(bool userOnly = false)
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
