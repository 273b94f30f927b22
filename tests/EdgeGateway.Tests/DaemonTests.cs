using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>The real daemon process, as a user or systemd sees it.</summary>
public sealed class DaemonTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-daemon-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Simulate_mode_serves_a_connected_drone_with_its_battery_on_the_local_api()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };

        JsonElement status = default;
        await TaskTimeouts.Eventually(() =>
        {
            status = TryGetJson(http, "/api/drone/status");
            return status.ValueKind == JsonValueKind.Object && status.GetProperty("connected").GetBoolean();
        }, () => "the simulated drone shows as connected\n" + gateway.Output, TimeSpan.FromSeconds(45));

        Assert.InRange(status.GetProperty("battery").GetInt32(), 1, 100);
        var health = TryGetJson(http, "/healthz");
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        var components = health.GetProperty("components").EnumerateArray().ToDictionary(
            c => c.GetProperty("component").GetString()!, c => c.GetProperty("state").GetString());
        Assert.True(components.TryGetValue("drone/tello-1", out var drone) && drone == "healthy", string.Join(", ", components));
        Assert.True(components.TryGetValue("buffer", out var buffer) && buffer == "healthy", string.Join(", ", components));
    }

    [Theory]
    [InlineData("--Drones:CommandPort=70000", "Drones:CommandPort", "0-65535")]
    [InlineData("--Drones:StatePort=abc", "Drones:StatePort", "0-65535")]
    [InlineData("--Drones:Items:0:Address=not-an-address", "Drones:Items:0:Address", "HOST or HOST:PORT")]
    [InlineData("--Buffer:MaxBytes=-5", "Buffer:MaxBytes", "at least 1048576")]
    [InlineData("--Buffer:IntakeFullPolicy=Sometimes", "Buffer:IntakeFullPolicy", "DropOldest, DropNewest")]
    [InlineData("--Drones:LostAfter=later", "Drones:LostAfter", "between 00:00:00.1000000 and 00:05:00")]
    public async Task An_invalid_configuration_value_stops_the_daemon_with_exit_code_78_naming_the_key(string arg, string key, string allowed)
    {
        await using var gateway = GatewayProcess.Start(["--data-dir", _dataDir, "--urls", $"http://127.0.0.1:{FreePort.Tcp()}", arg]);

        var exit = await gateway.WaitForExitAsync();

        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("invalid configuration", gateway.Output, StringComparison.Ordinal);
        Assert.Contains(key, gateway.Output, StringComparison.Ordinal);
        Assert.Contains(allowed, gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Failed to convert", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Every_invalid_value_is_reported_in_one_go_even_after_an_unconvertible_one()
    {
        await using var gateway = GatewayProcess.Start(["--data-dir", _dataDir, "--urls", $"http://127.0.0.1:{FreePort.Tcp()}",
            "--Drones:StatePort=abc", "--Drones:LocalAddress=nonsense", "--Drones:CommandPort=70000"]);

        var exit = await gateway.WaitForExitAsync();

        Assert.True(exit == 78, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("Drones:StatePort: 'abc' is not a valid integer", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("Drones:LocalAddress:", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("Drones:CommandPort: must be 0-65535", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_command_line_exits_2_with_usage()
    {
        await using var gateway = GatewayProcess.Start(["--drone"]);

        Assert.Equal(2, await gateway.WaitForExitAsync());
        Assert.Contains("--drone needs a value", gateway.Output, StringComparison.Ordinal);
        Assert.Contains("Usage: edge-gateway", gateway.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("CommandPort")]
    [InlineData("StatePort")]
    public async Task A_drone_port_in_use_stops_the_daemon_with_a_clear_message(string which)
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var taken = ((IPEndPoint)holder.LocalEndPoint!).Port;
        var other = FreePort.Udp();
        var (commandPort, statePort) = which == "CommandPort" ? (taken, other) : (other, taken);

        await using var gateway = GatewayProcess.Start([
            "--data-dir", _dataDir, "--urls", $"http://127.0.0.1:{FreePort.Tcp()}", "--drone", "127.0.0.1:9",
            "--Drones:LocalAddress=127.0.0.1", $"--Drones:CommandPort={commandPort}", $"--Drones:StatePort={statePort}"]);

        var exit = await gateway.WaitForExitAsync();

        Assert.True(exit == 69, $"exit {exit}\n{gateway.Output}");
        Assert.Contains(taken.ToString(System.Globalization.CultureInfo.InvariantCulture), gateway.Output, StringComparison.Ordinal);
        Assert.Contains($"Drones:{which}", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_local_api_port_in_use_stops_the_daemon_with_a_clear_message()
    {
        using var holder = new TcpListener(IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((IPEndPoint)holder.LocalEndpoint).Port;

        await using var gateway = GatewayProcess.Start([
            "--data-dir", _dataDir, "--urls", $"http://127.0.0.1:{taken}",
            "--Drones:LocalAddress=127.0.0.1", "--Drones:CommandPort=0", $"--Drones:StatePort={FreePort.Udp()}"]);

        var exit = await gateway.WaitForExitAsync();

        Assert.True(exit == 69, $"exit {exit}\n{gateway.Output}");
        Assert.Contains("--urls", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Systemd_receives_ready_watchdog_and_stopping_on_a_real_notify_socket_and_sigterm_exits_cleanly()
    {
        var socketPath = Path.Combine(_dataDir, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var received = new List<string>();
        using var cts = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[4096];
            while (!cts.IsCancellationRequested)
            {
                var n = await notify.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                lock (received)
                {
                    received.AddRange(Encoding.UTF8.GetString(buffer, 0, n).Split('\n', StringSplitOptions.RemoveEmptyEntries));
                }
            }
        });
        string[] Received()
        {
            lock (received)
            {
                return [.. received];
            }
        }

        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dataDir, "d"), out _, out _);
        await using var gateway = GatewayProcess.Start(args, new Dictionary<string, string>
        {
            ["NOTIFY_SOCKET"] = socketPath,
            ["WATCHDOG_USEC"] = "1000000",
        });

        await TaskTimeouts.Eventually(() => Received().Contains("READY=1"), () => "READY=1 arrives\n" + gateway.Output, TimeSpan.FromSeconds(45));
        await TaskTimeouts.Eventually(() => Received().Count(l => l == "WATCHDOG=1") >= 2, "WATCHDOG=1 arrives repeatedly", TimeSpan.FromSeconds(20));
        Assert.Contains(Received(), l => l.StartsWith("STATUS=", StringComparison.Ordinal));

        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        gateway.Signal(GatewayProcess.SigTerm);
        var exit = await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20));
        stopwatch.Stop();

        Assert.True(exit == 0, $"exit {exit}\n{gateway.Output}");
        // The host's ShutdownTimeout is 10 s: a stop that hangs until it would take longer than this. A clean
        // stop takes well under a second; 6 s leaves room for a loaded CI machine.
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(6), $"SIGTERM took {stopwatch.Elapsed}\n{gateway.Output}");
        await TaskTimeouts.Eventually(() => Received().Contains("STOPPING=1"), "STOPPING=1 arrives");
        Assert.DoesNotContain("Unhandled exception", gateway.Output, StringComparison.Ordinal);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => reader).WithTimeout();
    }

    private static JsonElement TryGetJson(HttpClient http, string path)
    {
        try
        {
            return http.GetFromJsonAsync<JsonElement>(path).WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
        {
            return default;
        }
    }
}

public sealed class DaemonAccessTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-access-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Read_only_endpoints_of_every_capability_obey_the_local_api_roles()
    {
        const string token = "observer-secret-7f3a";
        var hash = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        // Loopback is not trusted here and anonymous clients are refused: every /api call needs the token.
        args.AddRange([
            "--LocalApi:Auth:TrustedNetworks:0=10.254.0.0/16", "--LocalApi:Auth:TrustedNetworks:1=fd00::/8",
            "--LocalApi:Auth:AnonymousRole=none",
            "--LocalApi:Auth:Tokens:0:Name=viewer", "--LocalApi:Auth:Tokens:0:Role=observer", $"--LocalApi:Auth:Tokens:0:Hash={hash}"]);
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await TaskTimeouts.Eventually(() => Probe(http, "/healthz", null) is 200 or 503, () => "the daemon answers\n" + gateway.Output,
            TimeSpan.FromSeconds(45));

        foreach (var path in new[] { "/api/drone/status", "/api/sensors", "/api/buffer", "/api/telemetry?limit=1", "/api/upstream/dead-letters" })
        {
            Assert.Equal(401, Probe(http, path, null));
            Assert.Equal(401, Probe(http, path, "wrong-token"));
            Assert.Equal(200, Probe(http, path, token));
        }

        using var refused = await http.GetAsync("/api/sensors").WithTimeout();
        var body = await refused.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
        Assert.False(body.GetProperty("success").GetBoolean());
        Assert.DoesNotContain(token, gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Healthz_shows_detail_and_metrics_answer_only_to_clients_with_the_role()
    {
        const string token = "observer-secret-91c2";
        var hash = "sha256:" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes(token)));
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        args.AddRange([
            "--LocalApi:Auth:TrustedNetworks:0=10.254.0.0/16", "--LocalApi:Auth:AnonymousRole=none",
            "--LocalApi:Auth:Tokens:0:Name=viewer", "--LocalApi:Auth:Tokens:0:Role=observer", $"--LocalApi:Auth:Tokens:0:Hash={hash}"]);
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await TaskTimeouts.Eventually(() => Probe(http, "/healthz", null) is 200 or 503, () => "the daemon answers\n" + gateway.Output,
            TimeSpan.FromSeconds(45));

        // Anonymous and refused: /metrics is 401, /healthz is the overall status only (same 200/503 code).
        Assert.Equal(401, Probe(http, "/metrics", null));
        Assert.Equal(401, Probe(http, "/metrics", "wrong-token"));
        var (code, anonymous) = await GetJsonAsync(http, "/healthz", null);
        Assert.True(code is 200 or 503);
        Assert.Equal(["status"], anonymous.EnumerateObject().Select(p => p.Name));
        Assert.Contains(anonymous.GetProperty("status").GetString(), new[] { "healthy", "degraded", "unhealthy" });
        Assert.Equal(401, Probe(http, "/healthz", "wrong-token"));

        // A rebound name is refused before any of this, on every path of the real daemon.
        foreach (var path in new[] { "/healthz", "/metrics", "/api/drone/status", "/ws" })
        {
            using var rebound = new HttpRequestMessage(HttpMethod.Get, path);
            rebound.Headers.Host = $"evil.example:{port}";
            rebound.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var refused = await http.SendAsync(rebound).WithTimeout();
            Assert.Equal(400, (int)refused.StatusCode);
            var error = await refused.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
            Assert.Equal("host_not_allowed", error.GetProperty("code").GetString());
        }

        // An observer token: the detail and the metrics.
        Assert.Equal(200, Probe(http, "/metrics", token));
        var (_, detailed) = await GetJsonAsync(http, "/healthz", token);
        Assert.True(detailed.GetProperty("components").GetArrayLength() > 0);
    }

    [Fact]
    public async Task Anonymous_observers_get_the_metrics_but_only_the_overall_health_and_loopback_gets_everything()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        await using var untrusted = GatewayProcess.Start([.. args, "--LocalApi:Auth:TrustedNetworks:0=10.254.0.0/16"]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        await TaskTimeouts.Eventually(() => Probe(http, "/healthz", null) is 200 or 503, () => "the daemon answers\n" + untrusted.Output,
            TimeSpan.FromSeconds(45));
        Assert.Equal(200, Probe(http, "/metrics", null));
        var (_, anonymous) = await GetJsonAsync(http, "/healthz", null);
        Assert.False(anonymous.TryGetProperty("components", out _));
        untrusted.Signal(GatewayProcess.SigTerm);
        await untrusted.WaitForExitAsync();

        // The shipped default trusts loopback: a local scraper and probe see everything, as before.
        await using var local = GatewayProcess.Start(args);
        await TaskTimeouts.Eventually(() => Probe(http, "/healthz", null) is 200 or 503, () => "the daemon answers\n" + local.Output,
            TimeSpan.FromSeconds(45));
        Assert.Equal(200, Probe(http, "/metrics", null));
        var (_, trusted) = await GetJsonAsync(http, "/healthz", null);
        Assert.True(trusted.GetProperty("components").GetArrayLength() > 0);
    }

    private static async Task<(int Status, JsonElement Body)> GetJsonAsync(HttpClient http, string path, string? bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (bearer is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
        }

        using var response = await http.SendAsync(request).WithTimeout();
        return ((int)response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>().WithTimeout());
    }

    private static int Probe(HttpClient http, string path, string? bearer)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (bearer is not null)
            {
                request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", bearer);
            }

            using var response = http.Send(request);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }
}
