using System.Net;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// MQTT over WebSocket against Mosquitto's <c>protocol websockets</c> listeners, plain and TLS, direct and through a
/// real HTTP proxy. (Mosquitto 2.0.11 refuses to start with only WebSocket listeners, so the broker also has a plain
/// TCP one, which the tests use for cross-checking subscribers.)
/// </summary>
public sealed class WebSocketIntegrationTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);
    private MosquittoBroker _broker = null!;

    public async Task InitializeAsync()
    {
        _broker = await MosquittoBroker.StartAsync(new Dictionary<string, string>
        {
            ["plain"] = "listener PORT 127.0.0.1\nallow_anonymous true",
            ["ws"] = "listener PORT 127.0.0.1\nprotocol websockets\nallow_anonymous true",
            ["wss"] = "listener PORT 127.0.0.1\nprotocol websockets\nallow_anonymous true\ncafile DIR/certs/ca.crt\ncertfile DIR/certs/server.crt\nkeyfile DIR/certs/server.key",
        }, "max_inflight_messages 20", dir =>
        {
            TestCertificates.Write(Path.Combine(dir, "certs"), "");
            TestCertificates.Write(Path.Combine(dir, "other"), "");
        });
    }

    public async Task DisposeAsync()
    {
        await _clients.DisposeAsync();
        await _broker.DisposeAsync();
    }

    private MqttClientOptions WsOptions(string listener, MqttProtocolVersion version = MqttProtocolVersion.V500, string caDir = "certs")
    {
        var options = ClientFactory.Options(_broker.Ports[listener], ClientFactory.UniqueId(listener), version);
        options.WebSocket = new MqttWebSocketOptions { Enabled = true, Path = "/mqtt", UseProxy = false };
        if (listener == "wss")
        {
            options.Host = "localhost";
            options.Tls = new MqttTlsOptions { Enabled = true, CaFile = Path.Combine(_broker.Directory, caDir, "ca.crt") };
        }

        return options;
    }

    [Theory]
    [InlineData("ws", MqttProtocolVersion.V500)]
    [InlineData("ws", MqttProtocolVersion.V311)]
    [InlineData("wss", MqttProtocolVersion.V500)]
    [InlineData("wss", MqttProtocolVersion.V311)]
    public async Task Publishes_over_websocket_reach_a_tcp_subscriber_in_order(string listener, MqttProtocolVersion version)
    {
        var topic = $"test/{listener}/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(_broker.Port, topic);
        var client = await _clients.ConnectedAsync(WsOptions(listener, version));
        var sends = Enumerable.Range(0, 200).Select(i => client.PublishAsync(topic, System.Text.Encoding.UTF8.GetBytes($"m{i}")).AsTask()).ToArray();
        var results = await Task.WhenAll(sends).WithTimeout();
        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        await TaskTimeouts.Eventually(() => received.Count == 200, () => $"200 messages at the subscriber (got {received.Count})");
        Assert.Equal(Enumerable.Range(0, 200).Select(i => $"m{i}"), received);
        await _broker.WaitForLogAsync($"New client connected from .* as {client.Options.ClientId}");
    }

    [Fact]
    public async Task A_packet_larger_than_a_frame_crosses_in_both_directions_intact()
    {
        // 300 KB: the client's pipe writes it as several WebSocket messages, so the broker reassembles one packet from
        // many frames; the subscriber (also over WebSocket) reassembles it again on the way back.
        var topic = $"test/big/{Guid.NewGuid():N}";
        var payload = new byte[300_000];
        new Random(TestSeed.Pick(output, "payload")).NextBytes(payload);
        var subscriberOptions = WsOptions("ws");
        subscriberOptions.MaximumPacketSize = 1024 * 1024;
        var subscriber = _clients.Client(subscriberOptions);
        var got = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        subscriber.MessageReceived = (m, _) =>
        {
            got.TrySetResult(m.Payload.ToArray());
            return ValueTask.CompletedTask;
        };
        Assert.True((await subscriber.ConnectAsync().WithTimeout()).IsConnected);
        Assert.Equal(SubscribeStatus.Completed, (await subscriber.SubscribeAsync([new MqttSubscription(topic)]).WithTimeout()).Status);

        var publisher = await _clients.ConnectedAsync(WsOptions("wss"));
        Assert.Equal(PublishStatus.Acknowledged, (await publisher.PublishAsync(topic, payload).WithTimeout()).Status);
        Assert.Equal(payload, await got.Task.WithTimeout());
    }

    [Fact]
    public async Task Wss_with_a_ca_the_server_does_not_chain_to_is_refused_like_mqtts()
    {
        var result = await _clients.Client(WsOptions("wss", caDir: "other")).ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TlsHandshakeFailed, result.Outcome);
        Assert.Contains("does not chain to the configured CA", result.Detail, StringComparison.Ordinal);
        Assert.Equal(RetryClass.Refused, ReconnectBackoff.Classify(result));
    }

    [Fact]
    public async Task Wss_host_name_mismatch_is_refused()
    {
        var options = WsOptions("wss");
        options.Host = "127.0.0.1";
        options.Tls.TargetHost = "broker.example.org";
        var result = await _clients.Client(options).ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TlsHandshakeFailed, result.Outcome);
        Assert.Contains("host name", result.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wss")]
    [InlineData("ws")]
    public async Task Goes_through_an_http_proxy(string listener)
    {
        await using var proxy = new ConnectProxy();
        var options = WsOptions(listener);
        options.WebSocket.UseProxy = true;
        options.WebSocketProxy = new WebProxy(proxy.Uri) { BypassProxyOnLocal = false };
        var client = await _clients.ConnectedAsync(options);
        Assert.Equal(PublishStatus.Acknowledged, (await client.PublishAsync("test/proxied", "x"u8.ToArray()).WithTimeout()).Status);
        var port = _broker.Ports[listener];
        Assert.Contains(proxy.Requests, r => r.Contains($":{port}", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_proxy_that_refuses_is_a_connect_failure_that_names_the_proxy()
    {
        var deadPort = FreePort.Tcp();
        var options = WsOptions("wss");
        options.WebSocket.UseProxy = true;
        options.WebSocketProxy = new WebProxy($"http://127.0.0.1:{deadPort}") { BypassProxyOnLocal = false };
        var result = await _clients.Client(options).ConnectAsync().WithTimeout();
        Assert.Equal(ConnectOutcome.TcpConnectFailed, result.Outcome);
        Assert.Contains($"through the proxy http://127.0.0.1:{deadPort}", result.Detail, StringComparison.Ordinal);
        Assert.Equal(RetryClass.Normal, ReconnectBackoff.Classify(result));
    }

    [Fact]
    public async Task Keepalive_pings_flow_over_websocket()
    {
        var options = WsOptions("ws");
        options.KeepAlive = TimeSpan.FromSeconds(1);
        var client = await _clients.ConnectedAsync(options);
        await _broker.WaitForLogAsync($"Received PINGREQ from {client.Options.ClientId}");
        await _broker.WaitForLogAsync($"Sending PINGRESP to {client.Options.ClientId}");
        Assert.True(client.IsConnected);
    }

    [Fact]
    public async Task A_cut_mid_stream_reconnects_and_every_message_is_acknowledged()
    {
        await using var proxy = new ConnectProxy();
        var topic = $"test/cut/{Guid.NewGuid():N}";
        var (_, received) = await _clients.SubscriberAsync(_broker.Port, topic);
        var options = WsOptions("wss");
        options.WebSocket.UseProxy = true;
        options.WebSocketProxy = new WebProxy(proxy.Uri) { BypassProxyOnLocal = false };
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client);
        supervisor.Start();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected through the proxy");
        const int count = 10_000;
        var sends = new List<Task<PublishResult>>(count);
        for (var i = 0; i < count; i++)
        {
            sends.Add(client.PublishAsync(topic, System.Text.Encoding.UTF8.GetBytes($"m{i}")).AsTask());
        }

        // Cut twice while messages are still waiting or in flight.
        var cutsWithWorkPending = 0;
        foreach (var after in new[] { 1_000, 6_000 })
        {
            await sends[after].WithTimeout(TimeSpan.FromSeconds(60));
            cutsWithWorkPending += client.PendingCount > 0 ? 1 : 0;
            proxy.CutAll();
        }

        var results = await Task.WhenAll(sends).WithTimeout(TimeSpan.FromSeconds(60));
        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        Assert.True(cutsWithWorkPending > 0, "the link was cut while messages were pending");
        Assert.True(proxy.Requests.Count >= 2, $"reconnected through the proxy ({proxy.Requests.Count} tunnels)");
        await TaskTimeouts.Eventually(() => received.Distinct().Count() == count, () => $"{count} distinct messages (got {received.Distinct().Count()})");
    }
}
