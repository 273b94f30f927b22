using System.Text;
using System.Diagnostics;
using EdgeGateway.Upstream.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Tests;

/// <summary>--upstream on the real daemon: records reach a real Mosquitto; bad URLs are refused without leaking secrets.</summary>
public sealed class UpstreamDaemonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("eg-upstream-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Upstream_mqtt_url_relays_drone_state_records_to_a_real_broker()
    {
        var mosquitto = FindTool("mosquitto") ?? throw new InvalidOperationException(
            "mosquitto is not installed: run `apt-get install -y mosquitto mosquitto-clients` (scripts/test.sh does it as root)");
        var mosquittoSub = FindTool("mosquitto_sub") ?? throw new InvalidOperationException(
            "mosquitto_sub is not installed: run `apt-get install -y mosquitto-clients`");
        var brokerPort = FreePort.Tcp();
        var conf = Path.Combine(_dir, "mosquitto.conf");
        await File.WriteAllTextAsync(conf, $"listener {brokerPort} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            + (Environment.UserName == "root" ? "user root\n" : ""));
        using var broker = Process.Start(new ProcessStartInfo(mosquitto, ["-c", conf]) { RedirectStandardError = true, RedirectStandardOutput = true })!;
        try
        {
            await TaskTimeouts.Eventually(() => CanConnect(brokerPort), "mosquitto listens", TimeSpan.FromSeconds(15));

            // A subscriber waits for five relayed records of the simulated drone's state stream.
            var sub = new ProcessStartInfo(mosquittoSub, ["-h", "127.0.0.1", "-p", brokerPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-t", "edge/test-gw/drone/tello-1/state", "-q", "1", "-C", "5", "-W", "60", "-v"])
            { RedirectStandardOutput = true, RedirectStandardError = true };
            using var subscriber = Process.Start(sub)!;
            var received = subscriber.StandardOutput.ReadToEndAsync();

            var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
            args.AddRange(["--upstream", $"mqtt://127.0.0.1:{brokerPort}", "--Upstream:GatewayId=test-gw"]);
            await using var gateway = GatewayProcess.Start(args);

            await subscriber.WaitForExitAsync().WithTimeout(TimeSpan.FromSeconds(75));
            var lines = (await received).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.True(subscriber.ExitCode == 0 && lines.Length == 5, $"subscriber exit {subscriber.ExitCode}, got:\n{string.Join("\n", lines)}\n{gateway.Output}");
            foreach (var line in lines)
            {
                Assert.StartsWith("edge/test-gw/drone/tello-1/state ", line, StringComparison.Ordinal);
                Assert.Contains("\"id\":\"test-gw:", line, StringComparison.Ordinal);
                Assert.Contains("\"seq\":", line, StringComparison.Ordinal);
            }
        }
        finally
        {
            broker.Kill();
            await broker.WaitForExitAsync().WithTimeout();
        }
    }

    [Fact]
    public async Task Upstream_ws_url_relays_drone_state_records_to_a_real_relay_receiver_with_the_token_from_the_environment()
    {
        const string token = "relay-token-9c41e2";
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        await using var app = builder.Build();
        var receiver = new EdgeGateway.Upstream.Relay.RelayReceiver(token);
        app.UseWebSockets();
        app.MapRelayReceiver("/relay", receiver);
        await app.StartAsync().WithTimeout();
        var address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First();
        var url = address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay";

        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
        args.AddRange(["--upstream", url, "--Upstream:GatewayId=test-gw"]);
        // The gateway stops first: the receiver's Kestrel would otherwise wait for the gateway's open WebSocket.
        await using (var gateway = GatewayProcess.Start(args, new Dictionary<string, string> { ["EDGEGW_UPSTREAM_TOKEN"] = token }))
        {
            await TaskTimeouts.Eventually(() => receiver.Records.Count(r => r.Stream == "drone/tello-1/state") >= 5,
                () => $"5 state records relayed; receiver has {receiver.Records.Count}, refused {receiver.Refused}\n{gateway.Output}",
                TimeSpan.FromSeconds(75));
            var states = receiver.Records.Where(r => r.Stream == "drone/tello-1/state").ToList();
            Assert.All(states, r => Assert.Equal("test-gw", r.Gateway));
            Assert.Equal(states.Select(r => r.Sequence).Order(), states.Select(r => r.Sequence));   // per-stream order upstream
            Assert.Equal(0, receiver.Refused);
            Assert.DoesNotContain(token, gateway.Output, StringComparison.Ordinal);
        }

        await app.StopAsync().WithTimeout();
    }

    [Theory]
    [InlineData("ftp://user:s3cret-pw@host/x")]
    [InlineData("mqtt://user:s3cret-pw@")]
    [InlineData("mqtt://user:s3cret-pw@host:99999")]
    public async Task A_bad_upstream_url_exits_2_and_never_shows_the_password(string url)
    {
        await using var gateway = GatewayProcess.Start(["--upstream", url, "--data-dir", _dir]);

        Assert.Equal(2, await gateway.WaitForExitAsync());
        Assert.Contains("--upstream", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", gateway.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mqtt://admin:Sup3r#Secret@host:1883", "Sup3r#Secret")]
    [InlineData("mqtt://admin:Sup3r/Secret@host:1883", "Sup3r/Secret")]
    [InlineData("mqtt://admin:Sup3r?Secret@host:1883", "Sup3r?Secret")]
    [InlineData("mqtt://admin:Sup3r@Secret@host:1883", "Sup3r@Secret")]
    public async Task A_raw_special_character_in_the_password_exits_2_with_a_clear_error_that_never_shows_it(string url, string secret)
    {
        await using var gateway = GatewayProcess.Start(["--upstream", url, "--data-dir", _dir, "--Logging:LogLevel:Default=Trace"]);

        Assert.Equal(2, await gateway.WaitForExitAsync());
        Assert.Contains("percent-encode", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Secret", gateway.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_percent_encoded_password_reaches_the_broker_decoded_and_never_a_trace_log()
    {
        // A TCP listener stands in for the broker: it only has to see the CONNECT packet.
        using var broker = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        broker.Start();
        var port = ((System.Net.IPEndPoint)broker.LocalEndpoint).Port;
        var args = GatewayProcess.IsolatedSimulateArgs(Path.Combine(_dir, "data"), out _, out _);
        args.AddRange(["--upstream", $"mqtt://admin:Sup3r%23Sec%2Fr%3Fe%40t@127.0.0.1:{port}", "--Logging:LogLevel:Default=Trace",
            "--Logging:Console:LogLevel:Default=Trace"]);
        await using var gateway = GatewayProcess.Start(args);

        using var client = await broker.AcceptTcpClientAsync().WithTimeout(TimeSpan.FromSeconds(45));
        var connect = new byte[512];
        var read = 0;
        var secret = Encoding.UTF8.GetBytes("Sup3r#Sec/r?e@t");
        while (connect.AsSpan(0, read).IndexOf(secret) < 0 && read < connect.Length)
        {
            var n = await client.GetStream().ReadAsync(connect.AsMemory(read)).AsTask().WithTimeout();
            Assert.True(n > 0, "the gateway closed before sending the password");
            read += n;
        }

        Assert.True(connect.AsSpan(0, read).IndexOf(secret) >= 0, "the CONNECT carries the decoded password");
        client.Close();
        gateway.Signal(GatewayProcess.SigTerm);
        await gateway.WaitForExitAsync();
        Assert.DoesNotContain("Sup3r", gateway.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Sec%2F", gateway.Output, StringComparison.Ordinal);
    }

    private static bool CanConnect(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect("127.0.0.1", port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    private static string? FindTool(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/sbin").Append("/usr/bin"))
        {
            var path = Path.Combine(dir, name);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }
}
