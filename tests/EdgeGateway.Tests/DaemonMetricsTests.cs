using System.Net.Http.Json;
using System.Text.Json;
using EdgeGateway.Hosting.Tests;

namespace EdgeGateway.Tests;

/// <summary>The real daemon's /metrics, parsed whole by the strict Prometheus text reader.</summary>
public sealed class DaemonMetricsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-metrics-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Metrics_of_a_simulating_daemon_parse_strictly_and_carry_every_capability()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        // An upstream sink nobody listens on: its instruments exist from the start, connected or not.
        args.AddRange(["--upstream", $"mqtt://127.0.0.1:{FreePort.Tcp()}", "--Upstream:GatewayId=metrics-gw"]);
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await TaskTimeouts.Eventually(() => Connected(http), () => "the simulated drone connects\n" + gateway.Output, TimeSpan.FromSeconds(45));

        Dictionary<string, PromFamily> families = [];
        string text = "";
        // Sensor readings and buffer commits come a moment after the drone connects; wait for them, not a fixed time.
        await TaskTimeouts.Eventually(() =>
        {
            text = Fetch(http, "/metrics");
            families = PrometheusTextParser.Parse(text);
            return Positive(families, "edge_sensor_readings_total") && Positive(families, "edge_buffer_records_committed_total");
        }, () => "sensor readings and buffer commits are counted\n" + text + "\n" + gateway.Output, TimeSpan.FromSeconds(45));

        Assert.True(Positive(families, "edge_drone_state_datagrams_total"), text);
        Assert.Equal("gauge", families["edge_drone_link_health_state"].Type);
        Assert.Equal("gauge", families["edge_buffer_backlog_records"].Type);
        Assert.True(Positive(families, "edge_localapi_http_requests_total"), text);
        Assert.Equal("gauge", families["edge_upstream_connected"].Type);
        Assert.Contains("process_cpu_seconds_total", families.Keys);
    }

    [Fact]
    public async Task Promtool_check_metrics_passes_on_the_live_metrics_of_a_simulating_daemon()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await TaskTimeouts.Eventually(() => Connected(http), () => "the simulated drone connects\n" + gateway.Output, TimeSpan.FromSeconds(45));
        // Every capability has reported once: the histograms and the runtime's thread-pool instruments are in the text.
        string text = "";
        await TaskTimeouts.Eventually(() =>
        {
            text = Fetch(http, "/metrics");
            var families = PrometheusTextParser.Parse(text);
            return Positive(families, "edge_buffer_records_committed_total") && families.ContainsKey("dotnet_thread_pool_threads");
        }, () => "buffer commits and thread-pool gauges are exported\n" + text + "\n" + gateway.Output, TimeSpan.FromSeconds(45));

        var (exit, output) = await Promtool(text);
        Assert.True(exit == 0 && output.Length == 0, $"promtool check metrics (exit {exit}):\n{output}");
    }

    [Fact]
    public async Task Promtool_rejects_a_gauge_ending_in_count()
    {
        // The check above can fail: this is the exposition main had before the gauges were renamed.
        var (exit, output) = await Promtool("# TYPE dotnet_timer_count gauge\ndotnet_timer_count 3\n");
        Assert.NotEqual(0, exit);
        Assert.Contains("dotnet_timer_count", output, StringComparison.Ordinal);
    }

    /// <summary>Runs Debian's promtool (package prometheus, a peer in scripts/test.sh) on an exposition text.</summary>
    private static async Task<(int Exit, string Output)> Promtool(string exposition)
    {
        var start = new System.Diagnostics.ProcessStartInfo("promtool", ["check", "metrics"])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(exposition);
        process.StandardInput.Close();
        await process.WaitForExitAsync().WithTimeout(TimeSpan.FromMinutes(1), "promtool check metrics finishes");
        return (process.ExitCode, ((await stdout) + (await stderr)).Trim());
    }

    private static bool Positive(Dictionary<string, PromFamily> families, string name) =>
        families.TryGetValue(name, out var family) && family.Samples.Sum(s => s.Value) > 0;

    private static string Fetch(HttpClient http, string path)
    {
        using var response = http.GetAsync(path).WaitAsync(TimeSpan.FromSeconds(10)).GetAwaiter().GetResult();
        response.EnsureSuccessStatusCode();
        Assert.StartsWith("text/plain; version=0.0.4", response.Content.Headers.ContentType!.ToString(), StringComparison.Ordinal);
        return response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
    }

    private static bool Connected(HttpClient http)
    {
        try
        {
            var status = http.GetFromJsonAsync<JsonElement>("/api/drone/status").WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
            return status.GetProperty("connected").GetBoolean();
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException
                                       or KeyNotFoundException or InvalidOperationException)
        {
            return false;
        }
    }
}
