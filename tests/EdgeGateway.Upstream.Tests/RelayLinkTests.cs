using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using EdgeGateway.Mqtt;
using EdgeGateway.Upstream.Relay;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Upstream.Tests;

/// <summary>The relay link's failure handling: dead links found by PING/PONG, close codes, the sample receiver as shipped.</summary>
public sealed class RelayLinkTests(ITestOutputHelper output) : IDisposable
{
    private readonly TestLoggerProvider _logs = new(output);
    private readonly UpstreamMetrics _metrics = new();

    private RelaySink Sink(string url, Action<RelaySinkOptions>? configure = null)
    {
        var o = new RelaySinkOptions
        {
            Enabled = true,
            Url = url,
            Token = "s3cret",
            KeepAlive = TimeSpan.FromSeconds(1),
            PingTimeout = TimeSpan.FromSeconds(2),
            AckTimeout = TimeSpan.FromSeconds(120),
            Backoff = new MqttBackoffOptions
            {
                InitialDelay = TimeSpan.FromMilliseconds(100),
                MaxDelay = TimeSpan.FromMilliseconds(300),
                RefusedDelay = TimeSpan.FromSeconds(30),
            },
        };
        configure?.Invoke(o);
        Assert.Empty(o.Validate("Upstream:Relay"));
        var sink = new RelaySink(o, "gw1", TimeProvider.System, _logs.CreateFactory().CreateLogger<RelaySink>(), _metrics);
        sink.Start();
        return sink;
    }

    [Fact]
    public async Task A_blackholed_link_is_found_dead_by_the_missing_pong_and_the_sink_reconnects_and_resends()
    {
        await using var server = await ReceiverServer.StartAsync("s3cret", _logs);
        await using var proxy = new FaultProxy(new Uri(server.Url).Port);
        await using var sink = Sink($"ws://127.0.0.1:{proxy.Port}/relay");
        await using var rig = new BufferRig(sink, _logs);
        await TaskTimeouts.Eventually(() => sink.IsConnected, "connected through the proxy");
        await rig.WriteAsync("drone/tello-1/state", 1);
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, "the first record is acknowledged");

        // Silent loss: the sockets stay open, nothing is cut, nothing is in flight (the ack watchdog has nothing to
        // watch); only the unanswered PING can tell the link is dead.
        proxy.Mode = ProxyMode.Blackhole;
        var cutAt = Stopwatch.StartNew();
        // The socket state drops first; the reason (LastError) is published after the disconnect is logged.
        await TaskTimeouts.Eventually(() => !sink.IsConnected && sink.LastError is not null, "the sink declares the blackholed link dead", TimeSpan.FromSeconds(30));
        output.WriteLine($"noticed after {cutAt.Elapsed.TotalSeconds:0.0} s: {sink.LastError}");
        Assert.Equal(ProxyMode.Blackhole, proxy.Mode);
        Assert.Contains("PONG", sink.LastError ?? "", StringComparison.Ordinal);
        Assert.Contains(_logs.Entries, e => e.Id.Id == 6503);

        await rig.WriteAsync("drone/tello-1/state", 2);
        proxy.Mode = ProxyMode.Forward;
        await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, $"the record written meanwhile is acknowledged after the reconnect (cursor {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(30));
        Assert.True(sink.Reconnects >= 1, $"reconnects {sink.Reconnects}");
        Assert.Contains(rig.Last, server.Receiver.Records.Select(r => r.Sequence));
        _logs.AssertNoUnexpectedErrors();
    }

    /// <summary>A receiver that selects the subprotocol and closes at once with the given code.</summary>
    private static async Task<(WebApplication App, string Url, Func<int> Connections)> ClosingReceiverAsync(TestLoggerProvider logs, int code)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(logs);
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var connections = 0;
        app.UseWebSockets();
        app.Map("/relay", async (HttpContext context) =>
        {
            Interlocked.Increment(ref connections);
            using var ws = await context.WebSockets.AcceptWebSocketAsync(RelayProtocol.SubProtocol);
            await ws.CloseOutputAsync((WebSocketCloseStatus)code, "test close", context.RequestAborted);
            var buffer = new byte[256];
            try
            {
                while (ws.State is not (WebSocketState.Closed or WebSocketState.Aborted))
                {
                    await ws.ReceiveAsync(buffer, context.RequestAborted);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
            {
            }
        });
        await app.StartAsync().WithTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, address.Replace("http://", "ws://", StringComparison.Ordinal) + "/relay", () => Volatile.Read(ref connections));
    }

    [Theory]
    [InlineData(1008)]
    [InlineData(4001)]
    public async Task A_receiver_closing_with_policy_violation_or_token_revoked_gets_the_long_refused_backoff(int code)
    {
        var (app, url, connections) = await ClosingReceiverAsync(_logs, code);
        await using var _ = app;
        await using var sink = Sink(url);
        await TaskTimeouts.Eventually(() => _logs.Entries.Any(e => e.Id.Id == 6502), "the refusal is logged (event 6502)");
        var refused = _logs.Entries.First(e => e.Id.Id == 6502);
        output.WriteLine(refused.Message);
        Assert.Contains($"({code} test close)", refused.Message, StringComparison.Ordinal);
        var delayMs = long.Parse(System.Text.RegularExpressions.Regex.Match(refused.Message, @"next attempt in (\d+) ms").Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(delayMs >= 30_000, $"next attempt in {delayMs} ms, expected at least RefusedDelay (30 s)");
        // And it really waits: no second connection while the normal backoff (at most 300 ms) would have retried many times.
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(1, connections());
        Assert.Contains($"({code} test close)", sink.LastError ?? "", StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused us", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_receiver_closing_with_internal_error_gets_the_normal_short_backoff()
    {
        var (app, url, connections) = await ClosingReceiverAsync(_logs, 1011);
        await using var _ = app;
        await using var sink = Sink(url);
        await TaskTimeouts.Eventually(() => connections() >= 4, () => $"the sink keeps retrying with the short backoff ({connections()} connections)");
        Assert.DoesNotContain(_logs.Entries, e => e.Id.Id == 6502);
        Assert.Contains("(1011 test close)", sink.LastError ?? "", StringComparison.Ordinal);
        _logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task The_sample_receiver_process_prints_and_acknowledges_what_the_sink_sends_and_refuses_a_wrong_token()
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "RelayReceiver.dll");
        Assert.True(File.Exists(dll), $"{dll} missing: the test project references samples/RelayReceiver");
        var port = FreePort.Tcp();
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { dll, "--urls", $"http://127.0.0.1:{port}", "--token", "s3cret" })
        {
            psi.ArgumentList.Add(a);
        }

        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        using var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lines.Enqueue(line);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                lines.Enqueue("stderr: " + line);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await using (var wrong = Sink($"ws://127.0.0.1:{port}/relay", o => o.Token = "wrong"))
            {
                await TaskTimeouts.Eventually(() => wrong.LastError?.Contains("401", StringComparison.Ordinal) == true,
                    () => $"the sample refuses a wrong token with 401 (last error: {wrong.LastError}; output: {string.Join(" | ", lines)})", TimeSpan.FromSeconds(30));
            }

            await using var sink = Sink($"ws://127.0.0.1:{port}/relay");
            await using var rig = new BufferRig(sink, _logs);
            for (var i = 1; i <= 20; i++)
            {
                await rig.WriteAsync(i % 2 == 0 ? "sensor/gps0" : "drone/tello-1/state", i);
            }

            await TaskTimeouts.Eventually(() => rig.Forwarder.Cursor == rig.Last, () => $"the sample acknowledges all 20 (cursor {rig.Forwarder.Cursor})", TimeSpan.FromSeconds(30));
            foreach (var seq in rig.Written)
            {
                Assert.Contains(lines, l => l.StartsWith($"gw1:{seq} ", StringComparison.Ordinal));
            }

            var line7 = lines.First(l => l.StartsWith($"gw1:{rig.Written[6]} ", StringComparison.Ordinal));
            Assert.Contains(" drone/tello-1/state drone_state ", line7, StringComparison.Ordinal);
            Assert.EndsWith("{\"n\":7}", line7, StringComparison.Ordinal);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WithTimeout();
        }

        _logs.AssertNoUnexpectedErrors(m => m.Contains("refused us", StringComparison.Ordinal));
    }

    public void Dispose() => _metrics.Dispose();
}
