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
    /// <summary>How many PUBLISHes were unacknowledged when the packet ids first wrapped (0 = no wrap seen).</summary>
    public int OutstandingAtWrap { get; private set; }
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

    /// <summary>Closes every client connection gracefully (FIN first): the client reads a clean end of stream.</summary>
    public void CloseAll()
    {
        lock (_gate)
        {
            foreach (var (a, b) in _pairs)
            {
                try
                {
                    a.Shutdown(SocketShutdown.Both);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }

                b.Dispose();
                a.Dispose();
            }

            _pairs.Clear();
        }
    }

    /// <summary>Like <see cref="CutAll"/>, but the client sees a TCP reset (linger 0) instead of a clean end of stream.</summary>
    public void ResetAll()
    {
        lock (_gate)
        {
            foreach (var (a, b) in _pairs)
            {
                try
                {
                    a.LingerState = new LingerOption(true, 0);
                }
                catch (Exception e) when (e is SocketException or ObjectDisposedException)
                {
                }

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
                    byte[]? replacement = null;
                    var action = Blackhole ? Action.Forward : Inspect(buffer.AsSpan(start, length), fromClient, connection, out replacement);
                    if (action != Action.Forward)
                    {
                        if (start > forwardFrom)
                        {
                            await to.SendAsync(buffer.AsMemory(forwardFrom, start - forwardFrom), SocketFlags.None, _stop.Token);
                        }

                        if (action == Action.Cut)
                        {
                            from.Dispose();
                            to.Dispose();
                            return;
                        }

                        if (action == Action.Replace)
                        {
                            await to.SendAsync(replacement!, SocketFlags.None, _stop.Token);
                        }

                        forwardFrom = start + length;
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

    private enum Action
    {
        Forward,
        Cut,
        Drop,
        Replace,
    }

    /// <summary>Broker-to-client PUBACKs are swallowed (the broker accepts PUBLISHes that are never acknowledged).</summary>
    public bool DropPubAcks { get; set; }

    /// <summary>Client-to-broker PINGREQs are swallowed (the client goes silent as far as the broker can tell).</summary>
    public bool DropPingRequests { get; set; }

    /// <summary>v5 CONNACK properties with these ids are removed (the broker "does not advertise" them).</summary>
    public HashSet<byte> StripConnAckProperties { get; } = [];

    /// <summary>Records the packet and decides what to do with it.</summary>
    private Action Inspect(ReadOnlySpan<byte> packet, bool fromClient, int connection, out byte[]? replacement)
    {
        replacement = null;
        var verdict = InspectCore(packet, fromClient, connection);
        if (verdict != Action.Forward)
        {
            return verdict;
        }

        var type = packet[0] >> 4;
        if (fromClient && type == 12 && DropPingRequests)
        {
            return Action.Drop;
        }

        if (!fromClient && type == 2 && StripConnAckProperties.Count > 0)
        {
            replacement = StripProperties(packet.ToArray());
            return Action.Replace;
        }

        return Action.Forward;
    }

    /// <summary>Rewrites a v5 CONNACK without the configured properties (only fixed-size ones are handled).</summary>
    private byte[] StripProperties(byte[] connAck)
    {
        var at = 1;
        while ((connAck[at] & 0x80) != 0)
        {
            at++;
        }

        at++; // past the remaining length
        var body = new List<byte> { connAck[at], connAck[at + 1] };
        var p = at + 2;
        var propLength = 0;
        var shift = 0;
        while (true)
        {
            var b = connAck[p++];
            propLength |= (b & 0x7F) << shift;
            shift += 7;
            if ((b & 0x80) == 0)
            {
                break;
            }
        }

        var props = new List<byte>();
        var end = p + propLength;
        while (p < end)
        {
            var id = connAck[p];
            var size = id switch
            {
                0x11 or 0x27 => 4,
                0x21 or 0x22 or 0x13 => 2,
                0x24 or 0x25 or 0x28 or 0x29 or 0x2A => 1,
                _ => -1,
            };
            if (size < 0)
            {
                props.AddRange(connAck.AsSpan(p, end - p).ToArray()); // variable-length ones stay as they are (mosquitto puts none first)
                break;
            }

            if (!StripConnAckProperties.Contains(id))
            {
                props.AddRange(connAck.AsSpan(p, 1 + size).ToArray());
            }

            p += 1 + size;
        }

        body.AddRange(Vbi(props.Count));
        body.AddRange(props);
        var packet = new List<byte> { 0x20 };
        packet.AddRange(Vbi(body.Count));
        packet.AddRange(body);
        return [.. packet];
    }

    private static IEnumerable<byte> Vbi(int value)
    {
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            yield return value > 0 ? (byte)(b | 0x80) : b;
        }
        while (value > 0);
    }

    private Action InspectCore(ReadOnlySpan<byte> packet, bool fromClient, int connection)
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
                if (OutstandingAtWrap == 0 && Publishes.Count > 0 && Publishes[^1].Connection == connection && id < Publishes[^1].Id
                    && Publishes[^1].Id > 60_000)
                {
                    OutstandingAtWrap = _outstanding.Count; // unacknowledged ids at the moment the client wrapped past 65,535
                }

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
                if (DropPubAcks)
                {
                    return Action.Drop; // still outstanding as far as the client can tell
                }

                _pubAcksSeen++;
                if (CutOnPubAck == _pubAcksSeen)
                {
                    CutOnPubAck = null;
                    return Action.Cut;
                }

                _outstanding.Remove((ushort)((packet[headerLength] << 8) | packet[headerLength + 1]));
            }
        }

        return Action.Forward;
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
