using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Playwright;

// Usage: EdgeGateway.Console.Bench --daemon PATH/edge-gateway.dll [--seconds 60] [--state-ms 20] [--view charts] [--chromium PATH]
var options = Args.Parse(args);
var port = FreeTcpPort();
var statePort = FreeUdpPort(IPAddress.Loopback);
var simAddress = IPAddress.Parse("127.0.0.77");
var simPort = FreeUdpPort(simAddress);
var dataDir = Directory.CreateTempSubdirectory("eg-console-bench-").FullName;
var startInfo = new ProcessStartInfo("dotnet")
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
    UseShellExecute = false,
};
foreach (var a in new[]
         {
             options.Daemon, "--simulate", "--data-dir", dataDir, "--urls", $"http://127.0.0.1:{port}",
             $"--Simulator:Address={simAddress}", $"--Simulator:CommandPort={simPort}", "--Drones:CommandPort=0", $"--Drones:StatePort={statePort}",
             $"--Simulator:StateInterval={TimeSpan.FromMilliseconds(options.StateMs).ToString("c", CultureInfo.InvariantCulture)}",
             "--Logging:LogLevel:Default=Warning",
         })
{
    startInfo.ArgumentList.Add(a);
}

using var daemon = Process.Start(startInfo)!;
daemon.OutputDataReceived += (_, _) => { };
daemon.ErrorDataReceived += (_, _) => { };
daemon.BeginOutputReadLine();
daemon.BeginErrorReadLine();
try
{
    using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    await WaitConnectedAsync(http);
    // Some history to backfill, as a page opened during a flight would find.
    await Task.Delay(TimeSpan.FromSeconds(options.WarmSeconds));

    using var playwright = await Playwright.CreateAsync();
    await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = options.Chromium,
        Headless = true,
        Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
    var page = await context.NewPageAsync();
    // Init scripts run through the DevTools protocol, outside the page's CSP.
    await page.AddInitScriptAsync("""
        window.__longTasks = [];
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]); })
          .observe({ type: 'longtask', buffered: true });
        """);
    var cdp = await context.NewCDPSessionAsync(page);
    await cdp.SendAsync("Performance.enable");
    await page.GotoAsync($"http://127.0.0.1:{port}/#{options.View}");
    await page.WaitForFunctionAsync("() => performance.getEntriesByName('edge:first-live').length > 0", null, new() { Timeout = 30_000 });
    var firstLiveMs = await page.EvaluateAsync<double>("() => performance.getEntriesByName('edge:first-live')[0].startTime");
    // Let the history load and the page settle, then measure a steady window.
    await Task.Delay(TimeSpan.FromSeconds(5));
    var visibleCharts = await page.EvaluateAsync<int>("""
        () => [...document.querySelectorAll('.chart')].filter((c) => { const r = c.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0 && r.height > 0; }).length
        """);
    await cdp.SendAsync("HeapProfiler.collectGarbage");
    var before = await MetricsAsync(cdp);
    var loadedAt = await page.EvaluateAsync<double>("() => performance.now()");
    var points0 = await page.EvaluateAsync<int>("() => window.edgeConsole.chartStats().points");
    var wall = Stopwatch.StartNew();
    await Task.Delay(TimeSpan.FromSeconds(options.Seconds));
    var elapsed = wall.Elapsed.TotalSeconds;
    var afterRaw = await MetricsAsync(cdp);
    await cdp.SendAsync("HeapProfiler.collectGarbage");
    var after = await MetricsAsync(cdp);
    var longTasks = await page.EvaluateAsync<double[][]>("() => window.__longTasks");
    var points1 = await page.EvaluateAsync<int>("() => window.edgeConsole.chartStats().points");
    var longAfterLoad = longTasks.Count(t => t[0] >= loadedAt);
    var busy = (afterRaw["TaskDuration"] - before["TaskDuration"]) / elapsed * 100;
    var heapGrowthMb = (after["JSHeapUsedSize"] - before["JSHeapUsedSize"]) / 1048576.0;

    Console.WriteLine($"| state rate | view | charts visible | window | main-thread busy | long tasks after load (> 50 ms) | JS heap after GC, start → end | heap growth | first live value | chart points |");
    Console.WriteLine($"|---|---|---|---|---|---|---|---|---|---|");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {1000.0 / options.StateMs:0} Hz | {options.View} | {visibleCharts} | {elapsed:0} s | {busy:0.0} % of one core | {longAfterLoad} (before: {longTasks.Length - longAfterLoad}) | {before["JSHeapUsedSize"] / 1048576.0:0.0} → {after["JSHeapUsedSize"] / 1048576.0:0.0} MB | {heapGrowthMb:+0.00;-0.00} MB | {firstLiveMs:0} ms | {points0} → {points1} |"));
}
finally
{
    if (!daemon.HasExited)
    {
        daemon.Kill(entireProcessTree: true);
        await daemon.WaitForExitAsync();
    }

    Directory.Delete(dataDir, recursive: true);
}

static async Task<Dictionary<string, double>> MetricsAsync(ICDPSession cdp)
{
    var result = await cdp.SendAsync("Performance.getMetrics");
    var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
    foreach (var m in result!.Value.GetProperty("metrics").EnumerateArray())
    {
        metrics[m.GetProperty("name").GetString()!] = m.GetProperty("value").GetDouble();
    }

    return metrics;
}

static async Task WaitConnectedAsync(HttpClient http)
{
    var deadline = Stopwatch.StartNew();
    while (deadline.Elapsed < TimeSpan.FromSeconds(60))
    {
        try
        {
            using var doc = JsonDocument.Parse(await http.GetStringAsync("/api/drone/status"));
            if (doc.RootElement.GetProperty("connected").GetBoolean())
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }

        await Task.Delay(200);
    }

    throw new TimeoutException("the daemon did not serve a connected drone within 60 s");
}

static int FreeTcpPort()
{
    using var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    return ((IPEndPoint)l.LocalEndpoint).Port;
}

static int FreeUdpPort(IPAddress address)
{
    using var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    s.Bind(new IPEndPoint(address, 0));
    return ((IPEndPoint)s.LocalEndPoint!).Port;
}

internal sealed record Args(string Daemon, int Seconds, int StateMs, string View, string Chromium, int WarmSeconds)
{
    public static Args Parse(string[] args)
    {
        string? daemon = null;
        var seconds = 60;
        var stateMs = 20;
        var view = "charts";
        var warm = 20;
        var chromium = File.Exists("/usr/lib/chromium/chromium") ? "/usr/lib/chromium/chromium" : "/usr/bin/chromium";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--daemon": daemon = args[++i]; break;
                case "--seconds": seconds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--state-ms": stateMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--view": view = args[++i]; break;
                case "--warm": warm = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--chromium": chromium = args[++i]; break;
                default: throw new ArgumentException($"unknown argument {args[i]}");
            }
        }

        return new Args(daemon ?? throw new ArgumentException("--daemon PATH is required"), seconds, stateMs, view, chromium, warm);
    }
}
