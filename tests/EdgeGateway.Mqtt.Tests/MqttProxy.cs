using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>
/// A fault-injecting TCP proxy between the client and the broker (reference §2.5) that frames MQTT packets in both
/// directions, so tests can count outstanding PUBLISHes, see DUP flags and ids, and drop the link on the Nth PUBACK.
/// </summary>
public sealed class MqttProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _brokerPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly HashSet<ushort> _outstanding = [];
    private readonly List<(Socket A, Socket B)> _pairs = [];
    private int _pubAcksSeen;

    public MqttProxy(int brokerPort)
    {
        _brokerPort = brokerPort;
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Every client-to-broker PUBLISH: (packet id, DUP flag, connection number).</summary>
    public List<(ushort Id, bool Dup, int Connection)> Publishes { get; } = [];

    public int Connections { get; private set; }
    public int MaxOutstanding { get; private set; }
    public int PingRequests { get; private set; }
    /// <summary>A client PUBLISH reused an id that was still unacknowledged on the same connection.</summary>
    public int IdCollisions { get; private set; }

    /// <summary>When set, the PUBACK with this ordinal (1-based, over all connections) is swallowed and the link cut.</summary>
    public int? CutOnPubAck { get; set; }

    public bool Blackhole { get; set; }

    public void CutAll()
    {
        lock (_gate)
        {
            foreach (var (a, b) in _pairs)
            {
                a.Dispose();
                b.Dispose();
            }

            _pairs.Clear();
        }
    }

    private async Task AcceptLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var client = await _listener.AcceptSocketAsync(_stop.Token);
                var broker = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                client.NoDelay = true;
                await broker.ConnectAsync(IPAddress.Loopback, _brokerPort);
                int number;
                lock (_gate)
                {
                    _pairs.Add((client, broker));
                    _outstanding.Clear();
                    number = ++Connections;
                }

                _ = PumpAsync(client, broker, fromClient: true, number);
                _ = PumpAsync(broker, client, fromClient: false, number);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool fromClient, int connection)
    {
        var buffer = new byte[1 << 20];
        var start = 0;
        var end = 0;
        try
        {
            while (true)
            {
                if (end == buffer.Length)
                {
                    Array.Copy(buffer, start, buffer, 0, end - start);
                    end -= start;
                    start = 0;
                }

                var n = await from.ReceiveAsync(buffer.AsMemory(end), SocketFlags.None, _stop.Token);
                if (n == 0)
                {
                    // A blackhole passes nothing, not even the far side's close: the client must find the dead
                    // link by itself (the broker may give up on its keep alive first on a slow machine).
                    while (Blackhole && !_stop.IsCancellationRequested)
                    {
                        await Task.Delay(50, _stop.Token);
                    }

                    break;
                }

                end += n;
                var forwardFrom = start;
                while (TryFrame(buffer, start, end, out var length))
                {
                    if (!Blackhole && !Inspect(buffer.AsSpan(start, length), fromClient, connection))
                    {
                        if (start > forwardFrom)
                        {
                            await to.SendAsync(buffer.AsMemory(forwardFrom, start - forwardFrom), SocketFlags.None, _stop.Token);
                        }

                        from.Dispose();
                        to.Dispose();
                        return;
                    }

                    start += length;
                }

                if (!Blackhole && start > forwardFrom)
                {
                    await to.SendAsync(buffer.AsMemory(forwardFrom, start - forwardFrom), SocketFlags.None, _stop.Token);
                }

                if (start == end)
                {
                    start = end = 0;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        from.Dispose();
        to.Dispose();
    }

    /// <summary>Records the packet; false means "cut the link instead of forwarding it".</summary>
    private bool Inspect(ReadOnlySpan<byte> packet, bool fromClient, int connection)
    {
        var type = packet[0] >> 4;
        var headerLength = 1;
        while ((packet[headerLength] & 0x80) != 0)
        {
            headerLength++;
        }

        headerLength++;
        lock (_gate)
        {
            if (fromClient && type == 3 && ((packet[0] >> 1) & 3) > 0)
            {
                var topicLength = (packet[headerLength] << 8) | packet[headerLength + 1];
                var idAt = headerLength + 2 + topicLength;
                var id = (ushort)((packet[idAt] << 8) | packet[idAt + 1]);
                Publishes.Add((id, (packet[0] & 0x08) != 0, connection));
                if (!_outstanding.Add(id))
                {
                    IdCollisions++;
                }

                MaxOutstanding = Math.Max(MaxOutstanding, _outstanding.Count);
            }
            else if (fromClient && type == 12)
            {
                PingRequests++;
            }
            else if (!fromClient && type == 4)
            {
                _pubAcksSeen++;
                if (CutOnPubAck == _pubAcksSeen)
                {
                    CutOnPubAck = null;
                    return false;
                }

                _outstanding.Remove((ushort)((packet[headerLength] << 8) | packet[headerLength + 1]));
            }
        }

        return true;
    }

    private static bool TryFrame(byte[] buffer, int start, int end, out int length)
    {
        length = 0;
        int remaining = 0, multiplier = 1, i = start + 1;
        while (true)
        {
            if (i >= end)
            {
                return false;
            }

            var b = buffer[i++];
            remaining += (b & 0x7F) * multiplier;
            multiplier *= 128;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        length = i - start + remaining;
        return end - start >= length;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
    }
}
