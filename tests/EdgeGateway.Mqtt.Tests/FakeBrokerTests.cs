using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// A scripted broker on a real loopback socket, for behaviour Mosquitto cannot be made to show on demand
/// (a server DISCONNECT 0x8E) and for keep alive under an injected clock.
/// </summary>
public sealed class FakeBrokerTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);

    public Task InitializeAsync()
    {
        _listener.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _clients.DisposeAsync();
        _listener.Stop();
    }

    private int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Accepts one client, reads its CONNECT and answers a v5 CONNACK (success, no properties).</summary>
    private async Task<Socket> AcceptAndConnAckAsync()
    {
        var socket = await _listener.AcceptSocketAsync().WithTimeout();
        var buffer = new byte[1024];
        var n = await socket.ReceiveAsync(buffer).WithTimeout();
        Assert.True(n > 0 && buffer[0] == 0x10, "CONNECT first");
        await socket.SendAsync(Hex.Parse("20 03 00 00 00"));
        return socket;
    }

    [Fact]
    public async Task Pingreq_follows_idle_keep_alive_on_the_injected_clock_and_a_missing_pingresp_kills_the_link()
    {
        var clock = new ManualTimeProvider();
        var options = ClientFactory.Options(Port, "fake-ka");
        options.KeepAlive = TimeSpan.FromSeconds(20);
        options.PingTimeout = TimeSpan.FromSeconds(5);
        var client = _clients.Client(options, clock);
        var connect = client.ConnectAsync();
        using var socket = await AcceptAndConnAckAsync();
        Assert.True((await connect.WithTimeout()).IsConnected);
        var closed = client.WaitForDisconnectAsync();

        var received = new List<byte>();
        var reader = Task.Run(async () =>
        {
            var b = new byte[64];
            int n;
            while ((n = await socket.ReceiveAsync(b)) > 0)
            {
                lock (received)
                {
                    received.AddRange(b.AsSpan(0, n));
                }
            }
        });

        // Before 0.75 x keep alive nothing is sent.
        await AdvanceAsync(clock, TimeSpan.FromSeconds(14));
        lock (received)
        {
            Assert.Empty(received);
        }

        await AdvanceAsync(clock, TimeSpan.FromSeconds(2));
        await TaskTimeouts.Eventually(() =>
        {
            lock (received)
            {
                return received.Count >= 2;
            }
        }, "PINGREQ at 0.75 x keep alive");
        lock (received)
        {
            Assert.Equal("C000", Hex.Format(received.ToArray().AsSpan(0, 2)));
        }

        // No PINGRESP: after the ping timeout on the same clock the link is declared dead.
        Assert.False(closed.IsCompleted);
        await AdvanceAsync(clock, TimeSpan.FromSeconds(6));
        var info = await closed.WithTimeout();
        Assert.Equal(DisconnectKind.KeepAliveTimeout, info!.Kind);
    }

    [Fact]
    public async Task Server_disconnect_session_taken_over_backs_off_long_instead_of_fighting()
    {
        var clock = new ManualTimeProvider();
        var options = ClientFactory.Options(Port, "fake-takeover");
        var client = _clients.Client(options);
        var supervisor = _clients.Supervisor(client, clock);
        var retries = new List<MqttRetry>();
        supervisor.RetryScheduled += r =>
        {
            lock (retries)
            {
                retries.Add(r);
            }
        };
        supervisor.Start();
        using var socket = await AcceptAndConnAckAsync();
        await TaskTimeouts.Eventually(() => client.IsConnected, "connected");
        await socket.SendAsync(Hex.Parse("E0 01 8E"));

        await TaskTimeouts.Eventually(() => retries.Count == 1, "one retry scheduled");
        Assert.Equal(RetryClass.Takeover, retries[0].RetryClass);
        Assert.True(retries[0].Delay >= options.Backoff.TakeoverDelay);
        Assert.Contains("session taken over", retries[0].Why, StringComparison.Ordinal);
        await Task.Delay(500);
        Assert.Equal(1, supervisor.ConnectAttempts);
        Assert.Contains(_clients.Logs.Entries, e => e.Id.Id == 6102);
        Assert.True(supervisor.SuspectedTakeover, "health says client id in use after DISCONNECT 0x8E too");
    }

    [Fact]
    public async Task Malformed_bytes_from_the_server_close_the_connection_as_a_protocol_violation()
    {
        var client = _clients.Client(ClientFactory.Options(Port, "fake-garbage"));
        var connect = client.ConnectAsync();
        using var socket = await AcceptAndConnAckAsync();
        Assert.True((await connect.WithTimeout()).IsConnected);
        var closed = client.WaitForDisconnectAsync();
        await socket.SendAsync(Hex.Parse("40 02 00 00"));
        var info = await closed.WithTimeout();
        Assert.Equal(DisconnectKind.ProtocolViolation, info!.Kind);
    }

    [Fact]
    public async Task Puback_with_an_unknown_packet_id_acknowledges_nothing()
    {
        var client = _clients.Client(ClientFactory.Options(Port, "fake-unknown"));
        var connect = client.ConnectAsync();
        using var socket = await AcceptAndConnAckAsync();
        Assert.True((await connect.WithTimeout()).IsConnected);
        var publish = client.PublishAsync("t", "x"u8.ToArray()).AsTask();
        var b = new byte[64];
        var n = await socket.ReceiveAsync(b).WithTimeout();
        Assert.Equal(0x32, b[0]);
        var id = (b[5] << 8) | b[6];
        await socket.SendAsync(new byte[] { 0x40, 0x02, (byte)((id + 1) >> 8), (byte)(id + 1) });
        await Task.Delay(300);
        Assert.False(publish.IsCompleted);
        await socket.SendAsync(new byte[] { 0x40, 0x02, (byte)(id >> 8), (byte)id });
        Assert.Equal(PublishStatus.Acknowledged, (await publish.WithTimeout()).Status);
        Assert.True(n >= 7);
    }

    private static async Task AdvanceAsync(ManualTimeProvider clock, TimeSpan total)
    {
        // Small steps with a real pause: the watchdog re-arms its delay after each tick on another thread.
        for (var t = TimeSpan.Zero; t < total; t += TimeSpan.FromMilliseconds(250))
        {
            clock.Advance(TimeSpan.FromMilliseconds(250));
            await Task.Delay(5);
        }
    }
}
