using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Upstream.Relay;

/// <summary>One record as a relay receiver got it.</summary>
public sealed record ReceivedRelayRecord(string Id, string Gateway, long Sequence, string Stream, string Kind, string Time,
    string TimeSource, string PayloadJson, int Connection);

/// <summary>
/// The reference receiver of the relay protocol (docs/relay-protocol.md), small enough to read in one sitting:
/// checks the bearer token, accepts the <see cref="RelayProtocol.SubProtocol"/> WebSocket, keeps every record and
/// acknowledges cumulatively. The knobs <see cref="AcknowledgeEnabled"/>, <see cref="AckDelay"/> and
/// <see cref="DropConnections"/> exist so tests (and curious operators) can misbehave on purpose.
/// Map it with <see cref="RelayReceiverEndpoints.MapRelayReceiver"/>.
/// </summary>
public sealed class RelayReceiver(string token, ILogger? logger = null)
{
    private readonly byte[] _token = Encoding.UTF8.GetBytes(token);
    private readonly ILogger _logger = logger ?? NullLogger.Instance;
    private readonly ConcurrentQueue<ReceivedRelayRecord> _records = new();
    private readonly ConcurrentDictionary<int, Session> _sessions = new();
    private readonly ConcurrentQueue<WebSocketCloseStatus?> _closes = new();
    private volatile bool _acknowledge = true;
    private long _ackDelayTicks;
    private int _connections;
    private int _refused;

    /// <summary>Called for every batch frame (after the records were stored, before the ack).</summary>
    public Action<IReadOnlyList<ReceivedRelayRecord>>? BatchReceived { get; set; }

    /// <summary>When false, batches are stored but not acknowledged; turning it back on acks what was received.</summary>
    public bool AcknowledgeEnabled
    {
        get => _acknowledge;
        set
        {
            _acknowledge = value;
            foreach (var s in _sessions.Values)
            {
                s.Signal();
            }
        }
    }

    /// <summary>Wait this long before each ack (a slow upstream).</summary>
    public TimeSpan AckDelay
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _ackDelayTicks));
        set => Interlocked.Exchange(ref _ackDelayTicks, value.Ticks);
    }

    public IReadOnlyList<ReceivedRelayRecord> Records => [.. _records];

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>Upgrade requests refused (wrong token, no subprotocol).</summary>
    public int Refused => Volatile.Read(ref _refused);

    public int ActiveConnections => _sessions.Count;

    /// <summary>
    /// How each ended connection ended: the close code the gateway sent (1000 when it stops), or null when the
    /// connection was lost without a close handshake (what a WebSocket library reports as 1006).
    /// </summary>
    public IReadOnlyList<WebSocketCloseStatus?> CloseCodes => [.. _closes];

    /// <summary>Aborts every open connection (no close handshake), as a crashed receiver or a cut link would.</summary>
    public void DropConnections()
    {
        foreach (var s in _sessions.Values)
        {
            s.Socket.Abort();
        }
    }

    public async Task HandleAsync(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress?.ToString();
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("expected a WebSocket upgrade").ConfigureAwait(false);
            return;
        }

        if (!TokenMatches(context.Request.Headers.Authorization.ToString()))
        {
            Interlocked.Increment(ref _refused);
            UpstreamLog.ReceiverRefused(_logger, remote, "missing or wrong bearer token");
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await context.Response.WriteAsync("token refused").ConfigureAwait(false);
            return;
        }

        if (!context.WebSockets.WebSocketRequestedProtocols.Contains(RelayProtocol.SubProtocol))
        {
            Interlocked.Increment(ref _refused);
            UpstreamLog.ReceiverRefused(_logger, remote, "subprotocol not offered");
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"expected subprotocol {RelayProtocol.SubProtocol}").ConfigureAwait(false);
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            SubProtocol = RelayProtocol.SubProtocol,
            KeepAliveInterval = TimeSpan.FromSeconds(15),
        }).ConfigureAwait(false);
        var id = Interlocked.Increment(ref _connections);
        var session = new Session(socket);
        _sessions[id] = session;
        UpstreamLog.ReceiverAccepted(_logger, id, remote);
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var acker = AckLoopAsync(session, done.Token);
        var why = "closed";
        try
        {
            why = await ReceiveLoopAsync(session, id, done.Token).ConfigureAwait(false);
            _closes.Enqueue(socket.CloseStatus);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            why = "connection lost: " + e.Message;
            _closes.Enqueue(null);
        }
        finally
        {
            _sessions.TryRemove(id, out _);
            await done.CancelAsync().ConfigureAwait(false);
            try
            {
                await acker.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or IOException or ObjectDisposedException)
            {
            }

            UpstreamLog.ReceiverClosed(_logger, id, why);
        }
    }

    private bool TokenMatches(string authorization)
    {
        const string prefix = "Bearer ";
        if (!authorization.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var offered = Encoding.UTF8.GetBytes(authorization[prefix.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(offered, _token);
    }

    private async Task<string> ReceiveLoopAsync(Session session, int id, CancellationToken ct)
    {
        var socket = session.Socket;
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, ct).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ct).ConfigureAwait(false);
                return $"the gateway closed ({socket.CloseStatus})";
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.InvalidMessageType, "text frames only", ct).ConfigureAwait(false);
                return "binary frame";
            }

            if (message.Length + result.Count > RelayProtocol.MaxFrameBytes)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, "frame over 16 MiB", ct).ConfigureAwait(false);
                return "frame too big";
            }

            message.Write(buffer, 0, result.Count);
            if (!result.EndOfMessage)
            {
                continue;
            }

            var records = Parse(message.GetBuffer().AsMemory(0, (int)message.Length), id, out var error);
            message.SetLength(0);
            if (records is null)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.InvalidPayloadData, error, ct).ConfigureAwait(false);
                return "invalid frame: " + error;
            }

            if (records.Count == 0)
            {
                continue;
            }

            foreach (var r in records)
            {
                _records.Enqueue(r);
            }

            BatchReceived?.Invoke(records);
            session.Received(records[^1].Sequence);
        }
    }

    /// <summary>Parses a batch frame; null with an error for a malformed one, empty for a type we ignore.</summary>
    private static List<ReceivedRelayRecord>? Parse(ReadOnlyMemory<byte> frame, int connection, out string error)
    {
        error = "";
        try
        {
            using var doc = JsonDocument.Parse(frame);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var type))
            {
                error = "not an object with a type";
                return null;
            }

            if (type.GetString() != "batch")
            {
                return [];
            }

            var gateway = root.GetProperty("gateway").GetString() ?? "";
            var list = new List<ReceivedRelayRecord>();
            foreach (var r in root.GetProperty("records").EnumerateArray())
            {
                var payload = r.TryGetProperty("payload", out var p) ? p.GetRawText() : "null";
                list.Add(new ReceivedRelayRecord(r.GetProperty("id").GetString() ?? "", gateway, r.GetProperty("seq").GetInt64(),
                    r.GetProperty("stream").GetString() ?? "", r.GetProperty("kind").GetString() ?? "",
                    r.GetProperty("time").GetString() ?? "", r.GetProperty("time_source").GetString() ?? "", payload, connection));
            }

            return list;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            error = e.Message.Length > 100 ? e.Message[..100] : e.Message;
            return null;
        }
    }

    private async Task AckLoopAsync(Session session, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await session.WaitAsync(ct).ConfigureAwait(false);
            if (!_acknowledge || session.LastReceived is not { } seq || seq == session.LastAcked)
            {
                continue;
            }

            var delay = AckDelay;
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, ct).ConfigureAwait(false);
                seq = session.LastReceived ?? seq;
            }

            if (!_acknowledge)
            {
                continue;
            }

            var ack = Encoding.UTF8.GetBytes($"{{\"type\":\"ack\",\"seq\":{seq}}}");
            await session.Socket.SendAsync(ack, WebSocketMessageType.Text, true, ct).ConfigureAwait(false);
            session.LastAcked = seq;
        }
    }

    private sealed class Session(WebSocket socket)
    {
        private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
        private long _lastReceived = -1;

        public WebSocket Socket { get; } = socket;

        public long? LastReceived => Interlocked.Read(ref _lastReceived) is var v && v >= 0 ? v : null;

        public long LastAcked { get; set; } = -1;

        public void Received(long sequence)
        {
            Interlocked.Exchange(ref _lastReceived, sequence);
            Signal();
        }

        public void Signal() => _signal.Release();

        public Task WaitAsync(CancellationToken ct) => _signal.WaitAsync(ct);
    }
}

public static class RelayReceiverEndpoints
{
    /// <summary>Maps the receiver at <paramref name="pattern"/>; the app must call <c>UseWebSockets()</c>.</summary>
    public static IEndpointConventionBuilder MapRelayReceiver(this IEndpointRouteBuilder endpoints, string pattern, RelayReceiver receiver)
        => endpoints.Map(pattern, receiver.HandleAsync);
}
