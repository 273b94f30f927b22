using System.Net.Sockets;
using System.Text;

namespace EdgeGateway.Hosting.Tests;

/// <summary>
/// Plays systemd's side of the notify protocol: a real unix datagram socket, bound at a file path or in
/// the abstract namespace, whose name goes into NOTIFY_SOCKET.
/// </summary>
internal sealed class NotifySocketPeer : IDisposable
{
    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endPoint;
    private readonly string? _path;

    private NotifySocketPeer(UnixDomainSocketEndPoint endPoint, string notifySocket, string? path)
    {
        _endPoint = endPoint;
        NotifySocket = notifySocket;
        _path = path;
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        _socket.Bind(endPoint);
    }

    /// <summary>The value for NOTIFY_SOCKET.</summary>
    public string NotifySocket { get; }

    public static NotifySocketPeer AtPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"eg-notify-{Guid.NewGuid():N}.sock");
        return new NotifySocketPeer(new UnixDomainSocketEndPoint(path), path, path);
    }

    public static NotifySocketPeer Abstract()
    {
        var name = $"eg-notify-{Guid.NewGuid():N}";
        return new NotifySocketPeer(new UnixDomainSocketEndPoint("\0" + name), "@" + name, null);
    }

    public async Task<string> Receive(TimeSpan? timeout = null)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(timeout ?? TaskTimeouts.Default);
        try
        {
            var n = await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            return Encoding.UTF8.GetString(buffer, 0, n);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"no notify datagram within {(timeout ?? TaskTimeouts.Default).TotalSeconds:0.#} s");
        }
    }

    /// <summary>Receives until a datagram matches, returning everything received on the way (the match last).</summary>
    public async Task<List<string>> ReceiveUntil(Func<string, bool> match, TimeSpan? timeout = null)
    {
        var seen = new List<string>();
        var deadline = Deadline.In(timeout ?? TaskTimeouts.Default);
        while (true)
        {
            var left = deadline.Left;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("no matching datagram; got: " + string.Join(" | ", seen));
            }

            string next;
            try
            {
                next = await Receive(left);
            }
            catch (TimeoutException)
            {
                throw new TimeoutException("no matching datagram; got: " + string.Join(" | ", seen));
            }

            seen.Add(next);
            if (match(next))
            {
                return seen;
            }
        }
    }

    /// <summary>
    /// Sends a marker to ourselves and returns everything received before it. The socket's queue is FIFO,
    /// so anything the gateway sent before this call comes out first: a way to assert that nothing was sent.
    /// </summary>
    public async Task<List<string>> DrainUntilMarker()
    {
        var marker = "MARKER=" + Guid.NewGuid().ToString("N");
        using (var sender = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified))
        {
            sender.SendTo(Encoding.UTF8.GetBytes(marker), _endPoint);
        }

        var seen = await ReceiveUntil(d => d == marker);
        seen.RemoveAt(seen.Count - 1);
        return seen;
    }

    public void Dispose()
    {
        _socket.Dispose();
        if (_path is not null)
        {
            File.Delete(_path);
        }
    }
}
