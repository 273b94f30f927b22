using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Xunit.Abstractions;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// Frame boundaries against a scripted WebSocket server (a real socket and .NET's server-side WebSocket): MQTT over
/// WebSocket lets a packet span frames and a frame hold several packets, which Mosquitto never does on its own.
/// </summary>
public sealed class WebSocketFramingTests(ITestOutputHelper output) : IAsyncLifetime
{
    private readonly ClientFactory _clients = new(output);
    private readonly TcpListener _listener = StartListener();

    private static TcpListener StartListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    private MqttClientOptions Options()
    {
        var options = ClientFactory.Options(((IPEndPoint)_listener.LocalEndpoint).Port, ClientFactory.UniqueId("frames"), MqttProtocolVersion.V311);
        options.WebSocket = new MqttWebSocketOptions { Enabled = true, Path = "/mqtt", UseProxy = false };
        return options;
    }

    /// <summary>Accepts one connection and answers the upgrade with <paramref name="response"/> (null: a proper 101 with "mqtt").</summary>
    private async Task<(WebSocket? Socket, string Request)> AcceptAsync(string? response = null, string? subprotocol = "mqtt")
    {
        var client = await _listener.AcceptTcpClientAsync();
        var stream = client.GetStream();
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            Assert.Equal(1, await stream.ReadAsync(one));
            head.Append((char)one[0]);
        }

        var request = head.ToString();
        if (response is not null)
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes(response));
            client.Dispose();
            return (null, request);
        }

        var key = request.Split("\r\n").Single(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))[18..].Trim();
#pragma warning disable CA5350 // RFC 6455 fixes SHA-1 for Sec-WebSocket-Accept; it is not used for security here.
        var accept = Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
#pragma warning restore CA5350
        var answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + $"Sec-WebSocket-Accept: {accept}\r\n" + (subprotocol is null ? "" : $"Sec-WebSocket-Protocol: {subprotocol}\r\n") + "\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer));
        return (WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = true, SubProtocol = subprotocol, KeepAliveInterval = TimeSpan.Zero }), request);
    }

    /// <summary>Reads frames until <paramref name="buffer"/> holds one whole MQTT packet; returns and removes it.</summary>
    private static async Task<byte[]> ReadPacketAsync(WebSocket socket, List<byte> buffer)
    {
        var frame = new byte[65_536];
        while (true)
        {
            if (TryTakePacket(buffer, out var packet))
            {
                return packet;
            }

            var r = await socket.ReceiveAsync(frame, CancellationToken.None);
            Assert.Equal(WebSocketMessageType.Binary, r.MessageType);
            buffer.AddRange(frame.AsSpan(0, r.Count));
        }
    }

    private static bool TryTakePacket(List<byte> buffer, out byte[] packet)
    {
        packet = [];
        int length = 0, shift = 0, i = 1;
        while (true)
        {
            if (i >= buffer.Count)
            {
                return false;
            }

            var b = buffer[i++];
            length |= (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        if (buffer.Count < i + length)
        {
            return false;
        }

        packet = buffer.GetRange(0, i + length).ToArray();
        buffer.RemoveRange(0, i + length);
        return true;
    }

    private static ushort PublishPacketId(byte[] publish)
    {
        // Fixed header (1 + 1 byte remaining length for these small packets), topic length, topic, packet id.
        var topicLength = (publish[2] << 8) | publish[3];
        return (ushort)((publish[4 + topicLength] << 8) | publish[5 + topicLength]);
    }

    private static Task SendAsync(WebSocket socket, params byte[] frame) =>
        socket.SendAsync(frame, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);

    [Fact]
    public async Task A_packet_split_over_frames_and_several_packets_in_one_frame_are_both_decoded()
    {
        var client = _clients.Client(Options());
        var connecting = client.ConnectAsync();
        var (socket, request) = await AcceptAsync().WithTimeout();
        Assert.StartsWith("GET /mqtt HTTP/1.1", request, StringComparison.Ordinal);
        Assert.Contains("Sec-WebSocket-Protocol: mqtt", request, StringComparison.OrdinalIgnoreCase);
        var inbound = new List<byte>();
        Assert.Equal(0x10, (await ReadPacketAsync(socket!, inbound).WithTimeout())[0]); // CONNECT

        // CONNACK in three frames: one byte, one byte, the rest.
        await SendAsync(socket!, 0x20);
        await SendAsync(socket!, 0x02);
        await SendAsync(socket!, 0x00, 0x00);
        Assert.True((await connecting.WithTimeout()).IsConnected);

        var sends = Enumerable.Range(0, 3).Select(i => client.PublishAsync("test/frames", new byte[] { (byte)i }).AsTask()).ToArray();
        var ids = new List<ushort>();
        for (var i = 0; i < 3; i++)
        {
            var publish = await ReadPacketAsync(socket!, inbound).WithTimeout();
            Assert.Equal(0x32, publish[0]); // PUBLISH QoS 1
            ids.Add(PublishPacketId(publish));
        }

        // Two PUBACKs and the first half of the third in one frame, the rest of the third in the next.
        byte[] PubAck(ushort id) => [0x40, 0x02, (byte)(id >> 8), (byte)id];
        var all = PubAck(ids[0]).Concat(PubAck(ids[1])).Concat(PubAck(ids[2])).ToArray();
        await SendAsync(socket!, all[..10]);
        await Task.WhenAll(sends[0], sends[1]).WithTimeout();
        Assert.False(sends[2].IsCompleted);
        await SendAsync(socket!, all[10..]);
        var results = await Task.WhenAll(sends).WithTimeout();
        Assert.All(results, r => Assert.Equal(PublishStatus.Acknowledged, r.Status));
        socket!.Dispose();
    }

    [Fact]
    public async Task A_server_that_does_not_speak_the_mqtt_subprotocol_is_refused()
    {
        var connecting = _clients.Client(Options()).ConnectAsync();
        var (socket, _) = await AcceptAsync(subprotocol: null).WithTimeout();
        var result = await connecting.WithTimeout();
        Assert.Equal(ConnectOutcome.WebSocketUpgradeFailed, result.Outcome);
        Assert.Contains("subprotocol 'mqtt'", result.Detail, StringComparison.Ordinal);
        socket?.Dispose();
    }

    [Fact]
    public async Task An_http_error_instead_of_the_upgrade_is_a_clear_failure()
    {
        var connecting = _clients.Client(Options()).ConnectAsync();
        await AcceptAsync("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").WithTimeout();
        var result = await connecting.WithTimeout();
        Assert.Equal(ConnectOutcome.WebSocketUpgradeFailed, result.Outcome);
        Assert.Contains("404", result.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain("proxy", result.Detail, StringComparison.Ordinal);
        Assert.Equal(RetryClass.Normal, ReconnectBackoff.Classify(result));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _clients.DisposeAsync();
        _listener.Stop();
        _listener.Dispose();
    }
}
