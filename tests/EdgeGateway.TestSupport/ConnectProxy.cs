using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EdgeGateway.TestSupport;

/// <summary>
/// A small real HTTP proxy on a loopback port: <c>CONNECT host:port</c> opens a tunnel (what clients use for TLS and
/// WebSocket), and an absolute-form request (<c>GET http://host:port/path</c>) is forwarded to its origin in origin
/// form, then the bytes are piped both ways. It records each target so a test can prove the traffic went through it;
/// <see cref="CutAll"/> drops every tunnel at once.
/// </summary>
public sealed class ConnectProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<Socket> _open = [];
    private readonly List<string> _requests = [];
    private readonly Task _accepting;

    public ConnectProxy()
    {
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Uri Uri => new($"http://127.0.0.1:{Port}");

    /// <summary>Every request line the proxy answered, in order ("CONNECT 127.0.0.1:1234", "GET http://...").</summary>
    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_gate)
            {
                return [.. _requests];
            }
        }
    }

    /// <summary>Closes every open tunnel (both sides), as a middlebox that drops its connections would.</summary>
    public void CutAll()
    {
        lock (_gate)
        {
            foreach (var s in _open)
            {
                s.Dispose();
            }

            _open.Clear();
        }
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(Socket client)
    {
        Socket? upstream = null;
        try
        {
            var (head, rest) = await ReadHeadAsync(client);
            var lines = head.Split("\r\n");
            var parts = lines[0].Split(' ');
            if (parts.Length != 3)
            {
                client.Dispose();
                return;
            }

            string host;
            int port;
            byte[] forward;
            if (parts[0] == "CONNECT")
            {
                var colon = parts[1].LastIndexOf(':');
                host = parts[1][..colon];
                port = int.Parse(parts[1][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                forward = rest;
            }
            else
            {
                var target = new Uri(parts[1]);
                host = target.Host;
                port = target.Port;
                lines[0] = $"{parts[0]} {target.PathAndQuery} {parts[2]}";
                forward = [.. Encoding.ASCII.GetBytes(string.Join("\r\n", lines) + "\r\n\r\n"), .. rest];
            }

            lock (_gate)
            {
                _requests.Add($"{parts[0]} {parts[1]}");
            }

            upstream = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await upstream.ConnectAsync(host, port, _stop.Token);
            lock (_gate)
            {
                _open.Add(client);
                _open.Add(upstream);
            }

            if (parts[0] == "CONNECT")
            {
                await client.SendAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray());
            }

            if (forward.Length > 0)
            {
                await upstream.SendAsync(forward);
            }

            await Task.WhenAny(PipeAsync(client, upstream), PipeAsync(upstream, client));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException or IOException or FormatException)
        {
            if (upstream is null)
            {
                try
                {
                    await client.SendAsync("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"u8.ToArray());
                }
                catch (Exception inner) when (inner is SocketException or ObjectDisposedException)
                {
                }
            }
        }
        finally
        {
            client.Dispose();
            upstream?.Dispose();
        }
    }

    private static async Task<(string Head, byte[] Body)> ReadHeadAsync(Socket socket)
    {
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(chunk);
            if (n == 0)
            {
                throw new IOException("the client closed before the end of the request head");
            }

            buffer.AddRange(chunk.AsSpan(0, n));
            var all = buffer.ToArray();
            var end = all.AsSpan().IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.ASCII.GetString(all, 0, end), all[(end + 4)..]);
            }
        }
    }

    private static async Task PipeAsync(Socket from, Socket to)
    {
        var buffer = new byte[16384];
        try
        {
            while (true)
            {
                var n = await from.ReceiveAsync(buffer);
                if (n == 0)
                {
                    to.Shutdown(SocketShutdown.Send);
                    return;
                }

                await to.SendAsync(buffer.AsMemory(0, n));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        CutAll();
        await _accepting;
        _stop.Dispose();
    }
}
