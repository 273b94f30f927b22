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
