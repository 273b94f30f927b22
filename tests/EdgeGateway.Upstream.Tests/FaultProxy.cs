using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Upstream.Tests;

public enum ProxyMode
{
    Forward,
    /// <summary>Nothing passes either way; the sockets stay open (silent loss, half-open link).</summary>
    Blackhole,
    /// <summary>Client to broker passes; broker to client is discarded (lost PUBACKs and PINGRESPs).</summary>
    DropToClient,
}

/// <summary>A TCP fault proxy between the gateway and the broker: cut, blackhole, one-way drop, delay, refuse.</summary>
internal sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(TcpClient A, TcpClient B)> _pairs = [];
    private readonly Task _accept;
    private volatile ProxyMode _mode;
    private volatile bool _refuse;
    private long _delayTicks;
    private int _connections;

    public FaultProxy(int targetPort)
    {
        _target = targetPort;
        _listener.Start();
        _accept = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Connections => Volatile.Read(ref _connections);

    public ProxyMode Mode
    {
        get => _mode;
        set => _mode = value;
    }

    /// <summary>New connections are closed at once (the broker looks down).</summary>
    public bool Refuse
    {
        get => _refuse;
        set => _refuse = value;
    }

    /// <summary>Added before every forwarded chunk, both ways.</summary>
    public TimeSpan Delay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _delayTicks));
        set => Interlocked.Exchange(ref _delayTicks, value.Ticks);
    }

    /// <summary>Closes every proxied connection (RST), as a cable pull or NAT timeout would.</summary>
    public void Cut()
    {
        lock (_pairs)
        {
            foreach (var (a, b) in _pairs)
            {
                try
                {
                    a.Client?.LingerState = new LingerOption(true, 0);
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

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (_refuse)
            {
                client.Dispose();
                continue;
            }

            var upstream = new TcpClient();
            try
            {
                await upstream.ConnectAsync(IPAddress.Loopback, _target, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                client.Dispose();
                upstream.Dispose();
                continue;
            }

            Interlocked.Increment(ref _connections);
            lock (_pairs)
            {
                _pairs.Add((client, upstream));
            }

            _ = PumpAsync(client, upstream, toClient: false);
            _ = PumpAsync(upstream, client, toClient: true);
        }
    }

    private async Task PumpAsync(TcpClient from, TcpClient to, bool toClient)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            var input = from.GetStream();
            var output = to.GetStream();
            while (true)
            {
                var n = await input.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    break;
                }

                if (Delay is var d && d > TimeSpan.Zero)
                {
                    await Task.Delay(d, _stop.Token);
                }

                var mode = _mode;
                if (mode == ProxyMode.Blackhole || (mode == ProxyMode.DropToClient && toClient))
                {
                    continue;
                }

                await output.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
        finally
        {
            from.Dispose();
            to.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        Cut();
        await _accept;
        _stop.Dispose();
    }
}
