using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Soak;

/// <summary>
/// A TCP proxy between the gateway and the broker that can cut every connection or blackhole the link: while
/// blackholed it accepts connections and reads what both sides send, but forwards nothing; when the blackhole
/// ends, the connections that lived through it are cut (their byte streams lost data and cannot go on).
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(TcpClient Client, TcpClient Server)> _pairs = [];
    private readonly Task _accept;
    private volatile bool _blackholed;

    public FaultProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _accept = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public void CutAll()
    {
        lock (_gate)
        {
            foreach (var (client, server) in _pairs)
            {
                client.Client.LingerState = new LingerOption(true, 0); // RST, as a dropped NAT mapping or a pulled cable
                client.Dispose();
                server.Dispose();
            }

            _pairs.Clear();
        }
    }

    public void StartBlackhole() => _blackholed = true;

    public void EndBlackhole()
    {
        _blackholed = false;
        CutAll();
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        var server = new TcpClient();
        try
        {
            if (!_blackholed)
            {
                await server.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            client.Dispose(); // broker down: refuse, as the broker itself would
            server.Dispose();
            return;
        }

        lock (_gate)
        {
            _pairs.Add((client, server));
        }

        var up = Pump(client, server);
        var down = Pump(server, client);
        await Task.WhenAny(up, down);
        lock (_gate)
        {
            _pairs.Remove((client, server));
        }

        client.Dispose();
        server.Dispose();
        await Task.WhenAll(up, down).ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task Pump(TcpClient from, TcpClient to)
    {
        var buffer = new byte[16384];
        try
        {
            var source = from.GetStream();
            while (true)
            {
                var n = await source.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                if (_blackholed || !to.Connected)
                {
                    continue; // swallowed: the far side never hears of it
                }

                await to.GetStream().WriteAsync(buffer.AsMemory(0, n), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException or InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        await _accept;
        _stop.Dispose();
    }
}
