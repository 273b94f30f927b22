using System.Net;
using System.Net.Security;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Mqtt;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Upstream.Relay;

/// <summary>
/// The WebSocket relay sink: one connection at a time to a receiver, batches as JSON text frames, cumulative acks
/// mapped onto the forwarder's acknowledger, reconnect with capped exponential backoff and jitter, WebSocket PING
/// keepalive with a PONG timeout, and an ack-progress timeout for a receiver that is alive but stuck.
/// </summary>
public sealed class RelaySink : IUpstreamSink, IUpstreamLinkState, IAsyncDisposable
{
    /// <summary>How long a stop waits for its close frame to go out, and then for the receiver's reply.</summary>
    internal static readonly TimeSpan StopCloseTimeout = TimeSpan.FromSeconds(2);

    private readonly RelaySinkOptions _options;
    private readonly string _gatewayId;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly UpstreamMetrics _metrics;
    private readonly ReconnectBackoff _backoff;
    private readonly string _shownUrl;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly CancellationTokenSource _stop = new();
    private Connection? _current;
    private ISinkAcknowledger? _acks;
    private Task? _loop;
    private long _connects;
    private long _acked;
    private long _batchNumber;
    private string? _lastError = "not connected yet";
    private int _disposed;

    public RelaySink(RelaySinkOptions options, string gatewayId, TimeProvider time, ILogger<RelaySink> logger,
        UpstreamMetrics metrics, Random? random = null)
    {
        _options = options;
        _gatewayId = gatewayId;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _backoff = new ReconnectBackoff(options.Backoff, random);
        _shownUrl = UpstreamUrl.Redact(options.Url);
        _tag = new("sink", options.Name);
        metrics.Register(this);
    }

    public string Name => _options.Name;

    public string Transport => "relay";

    public bool IsConnected => Volatile.Read(ref _current) is { IsOpen: true };

    public int Inflight => Volatile.Read(ref _current)?.UnackedCount ?? 0;

    public DateTimeOffset? OldestUnacknowledged => Volatile.Read(ref _current)?.OldestCapture;

    public long Reconnects => Math.Max(0, Interlocked.Read(ref _connects) - 1);

    /// <summary>Connections established so far.</summary>
    public long Connects => Interlocked.Read(ref _connects);

    public long Acknowledged => Interlocked.Read(ref _acked);

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>Connection attempts so far (successful or not).</summary>
    public int Attempts { get; private set; }

    /// <summary>Starts the connection loop (idempotent).</summary>
    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    public async ValueTask<SinkSendResult> SendAsync(IReadOnlyList<BufferedRecord> batch, ISinkAcknowledger acks, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _acks, acks);
        var c = Volatile.Read(ref _current);
        if (c is not { IsOpen: true })
        {
            return SinkSendResult.Disconnected;
        }

        var number = Interlocked.Increment(ref _batchNumber);
        byte[] frame;
        try
        {
            frame = RecordJson.SerializeBatch(_gatewayId, batch, w =>
            {
                w.WriteNumber("v", RelayProtocol.Version);
                w.WriteNumber("batch", number);
            });
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or ArgumentException)
        {
            return SinkSendResult.Failed;
        }

        // Registered before the send, so an ack can never arrive for records we do not know yet.
        c.AddSent(batch, _time.GetTimestamp());
        try
        {
            using var timeout = new CancellationTokenSource(_options.SendTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken, c.Closing.Token);
            await c.Socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            c.Abort($"send failed: {e.Message}");
            return SinkSendResult.Disconnected;
        }

        _metrics.Sent.Add(batch.Count, _tag);
        return SinkSendResult.Sent;
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Attempts++;
                var (socket, failure, retryClass) = await ConnectAsync(ct).ConfigureAwait(false);
                // Exception texts may quote the URL; they reach the log, /healthz and /api/upstream.
                failure = UpstreamUrl.RedactUrlsIn(failure);
                if (socket is not null)
                {
                    var c = new Connection(socket);
                    Interlocked.Increment(ref _connects);
                    if (Connects > 1)
                    {
                        _metrics.Reconnects.Add(1, _tag);
                    }

                    var connectedAt = _time.GetTimestamp();
                    Volatile.Write(ref _lastError, null);
                    Volatile.Write(ref _current, c);
                    UpstreamLog.RelayConnected(_logger, Name, _shownUrl);
                    (failure, retryClass) = await RunConnectionAsync(c, ct).ConfigureAwait(false);
                    failure = UpstreamUrl.RedactUrlsIn(failure);
                    Volatile.Write(ref _current, null);
                    var unacked = c.UnackedCount;
                    c.Dispose();
                    if (ct.IsCancellationRequested)
                    {
                        return;
                    }

                    UpstreamLog.RelayDisconnected(_logger, Name, _time.GetElapsedTime(connectedAt).TotalSeconds, failure, unacked);
                    Volatile.Read(ref _acks)?.ConnectionLost(failure);
                    if (_time.GetElapsedTime(connectedAt) >= _options.Backoff.StableAfter)
                    {
                        _backoff.Reset();
                    }
                }

                Volatile.Write(ref _lastError, failure);
                var delay = _backoff.Next(retryClass);
                var ms = (long)delay.TotalMilliseconds;
                if (retryClass == RetryClass.Refused)
                {
                    UpstreamLog.RelayRefused(_logger, Name, _shownUrl, failure, ms);
                }
                else if (socket is null)
                {
                    UpstreamLog.RelayConnectFailed(_logger, Name, _shownUrl, failure, ms);
                }

                await Task.Delay(delay, _time, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                UpstreamLog.RelayLoopError(_logger, Name, e);
                try
                {
                    await Task.Delay(_options.Backoff.InitialDelay, _time, ct).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task<(ClientWebSocket? Socket, string Failure, RetryClass RetryClass)> ConnectAsync(CancellationToken ct)
    {
        var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + _options.Token);
        ws.Options.AddSubProtocol(RelayProtocol.SubProtocol);
        ws.Options.KeepAliveInterval = _options.KeepAlive;
        ws.Options.KeepAliveTimeout = _options.PingTimeout;
        ws.Options.CollectHttpResponseDetails = true;
        var uri = new Uri(_options.Url);
        string? certificateProblem = null;
        if (uri.Scheme == "wss")
        {
            X509Certificate2Collection? trust = null;
            if (_options.CaFile is { Length: > 0 } caFile)
            {
                trust = [];
                trust.ImportFromPemFile(caFile);
            }

            // Records why the certificate was rejected: the handshake exception itself only says "see inner exception".
            ws.Options.RemoteCertificateValidationCallback = (_, cert, _, errors) =>
            {
                if (cert is null)
                {
                    certificateProblem = "the receiver sent no certificate";
                    return false;
                }

                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    certificateProblem = $"the receiver's certificate does not match the host name '{uri.Host}'";
                    return false;
                }

                if (trust is null)
                {
                    certificateProblem = errors == SslPolicyErrors.None ? null : $"the receiver's certificate is not trusted by the system trust store ({errors}); set CaFile for a private CA";
                    return errors == SslPolicyErrors.None;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(trust);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (chain.Build(new X509Certificate2(cert)))
                {
                    return true;
                }

                certificateProblem = "the receiver's certificate does not chain to the configured CA (CaFile): "
                    + string.Join(", ", chain.ChainStatus.Select(s => s.Status.ToString()));
                return false;
            };
        }

        using var timeout = new CancellationTokenSource(_options.ConnectTimeout, _time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, ct);
        try
        {
            await ws.ConnectAsync(uri, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            ws.Dispose();
            return (null, $"no WebSocket handshake within {_options.ConnectTimeout}", RetryClass.Normal);
        }
        catch (Exception e) when (IsTlsFailure(e, out var tlsMessage))
        {
            // A certificate the sink does not trust will not fix itself in a second: wait long, like a refused token.
            ws.Dispose();
            return (null, "TLS handshake failed: " + (certificateProblem ?? tlsMessage), RetryClass.Refused);
        }
        catch (WebSocketException e)
        {
            var status = ws.HttpStatusCode;
            ws.Dispose();
            return status switch
            {
                HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden =>
                    (null, $"HTTP {(int)status} {status}: the receiver refused the token", RetryClass.Refused),
                HttpStatusCode.NotFound => (null, $"HTTP 404: no relay receiver at this URL", RetryClass.Refused),
                0 => (null, e.InnerException?.Message ?? e.Message, RetryClass.Normal),
                _ => (null, $"HTTP {(int)status} {status}: {e.Message}", RetryClass.Normal),
            };
        }
        catch (Exception e) when (e is IOException or System.Security.Authentication.AuthenticationException or HttpRequestException)
        {
            ws.Dispose();
            return (null, e.Message, RetryClass.Normal);
        }

        if (ws.SubProtocol != RelayProtocol.SubProtocol)
        {
            ws.Abort();
            ws.Dispose();
            return (null, $"the receiver did not select the subprotocol {RelayProtocol.SubProtocol} (got '{ws.SubProtocol}')", RetryClass.Refused);
        }

        return (ws, "", RetryClass.Normal);
    }

    private static bool IsTlsFailure(Exception e, out string message)
    {
        for (Exception? inner = e; inner is not null; inner = inner.InnerException)
        {
            if (inner is System.Security.Authentication.AuthenticationException)
            {
                message = inner.Message;
                return true;
            }
        }

        message = "";
        return false;
    }

    /// <summary>Reads acks until the connection ends; returns why it ended.</summary>
    private async Task<(string Why, RetryClass RetryClass)> RunConnectionAsync(Connection c, CancellationToken ct)
    {
        // The stop token is not linked into the receive: cancelling a pending ReceiveAsync aborts the socket, and a
        // stop must send its close frame first (relay-protocol.md §4). On stop the close goes out while the receive
        // keeps running; the receive then ends on the receiver's close reply (or the abort after a deadline).
        var closing = c.Closing.Token;
        var watchdog = WatchAckProgressAsync(c, closing);
        Task stopClose = Task.CompletedTask;
        using var onStop = ct.Register(() => stopClose = CloseForStopAsync(c));
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (true)
            {
                var result = await c.Socket.ReceiveAsync(buffer, closing).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close && ct.IsCancellationRequested)
                {
                    return ("stopping", RetryClass.Normal); // the receiver's reply to our close
                }

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    var code = (int?)c.Socket.CloseStatus ?? 0;
                    var why = $"the receiver closed the connection ({code} {c.Socket.CloseStatusDescription})";
                    await CloseQuietlyAsync(c.Socket).ConfigureAwait(false);
                    return (why, code is RelayProtocol.CloseTokenRevoked or (int)WebSocketCloseStatus.PolicyViolation ? RetryClass.Refused : RetryClass.Normal);
                }

                if (message.Length + result.Count > 1024 * 1024)
                {
                    c.Abort("frame from the receiver over 1 MiB");
                    return ("the receiver sent an oversized frame", RetryClass.Normal);
                }

                message.Write(buffer, 0, result.Count);
                if (!result.EndOfMessage)
                {
                    continue;
                }

                HandleFrame(c, message.GetBuffer().AsSpan(0, (int)message.Length));
                message.SetLength(0);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            if (ct.IsCancellationRequested)
            {
                return ("stopping", RetryClass.Normal); // no close reply within the deadline: aborted
            }

            return (c.AbortReason ?? (c.Socket.State == WebSocketState.Aborted ? "connection lost (no PONG within the ping timeout, or reset)" : e.Message), RetryClass.Normal);
        }
        finally
        {
            c.Abort(null);
            try
            {
                await watchdog.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }

            await onStop.DisposeAsync().ConfigureAwait(false); // a stop racing the end of the connection has assigned stopClose
            await stopClose.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Stop: sends close 1000 "gateway stopping" (sends are serialized by the socket, so a batch being written
    /// finishes first), then gives the receiver <see cref="StopCloseTimeout"/> to answer before aborting.
    /// </summary>
    private async Task CloseForStopAsync(Connection c)
    {
        try
        {
            if (c.Socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var deadline = new CancellationTokenSource(StopCloseTimeout, _time);
                await c.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "gateway stopping", deadline.Token).ConfigureAwait(false);
            }

            // The receive loop ends on the reply and cancels Closing; otherwise abort after the deadline.
            await Task.Delay(StopCloseTimeout, _time, c.Closing.Token).ConfigureAwait(false);
            c.Abort("no close reply from the receiver");
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            c.Abort(null);
        }
    }

    private void HandleFrame(Connection c, ReadOnlySpan<byte> frame)
    {
        var kind = RelayFrameParser.Parse(frame, out var upTo, out var error);
        if (kind == RelayFrameKind.Ignored)
        {
            // Unknown types are ignored so a receiver may add messages without breaking older gateways.
            return;
        }

        if (kind != RelayFrameKind.Ack)
        {
            UpstreamLog.RelayBadFrame(_logger, Name, error ?? kind.ToString());
            return;
        }

        var acked = c.AckThrough(upTo, _time.GetTimestamp());
        if (acked.Count == 0)
        {
            return;
        }

        var acks = Volatile.Read(ref _acks);
        foreach (var s in acked)
        {
            acks?.Acknowledge(s);
        }

        Interlocked.Add(ref _acked, acked.Count);
        _metrics.Acked.Add(acked.Count, _tag);
    }

    private async Task WatchAckProgressAsync(Connection c, CancellationToken ct)
    {
        var period = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, _options.AckTimeout.Ticks / 4));
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(period, _time, ct).ConfigureAwait(false);
            if (c.WaitingSince is { } since && _time.GetElapsedTime(since) > _options.AckTimeout)
            {
                c.Abort($"no acknowledgement within {_options.AckTimeout} with {c.UnackedCount} records unacknowledged");
                return;
            }
        }
    }

    private static async Task CloseQuietlyAsync(WebSocket socket, WebSocketCloseStatus status = WebSocketCloseStatus.NormalClosure, string? why = null)
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(status, why, cts.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    public async Task StopAsync()
    {
        try
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            return; // already disposed
        }

        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // DI may dispose one instance once per registration (RelaySink, IUpstreamSink, IUpstreamLinkState).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        _metrics.Unregister(this);
        _stop.Dispose();
    }

    /// <summary>One WebSocket connection and what was sent on it, in send order.</summary>
    private sealed class Connection(ClientWebSocket socket) : IDisposable
    {
        private readonly Lock _gate = new();
        private readonly Queue<(long Sequence, DateTimeOffset Capture)> _sent = new();
        private long? _waitingSince;
        private string? _abortReason;

        public ClientWebSocket Socket { get; } = socket;

        public CancellationTokenSource Closing { get; } = new();

        public bool IsOpen => Socket.State == WebSocketState.Open && !Closing.IsCancellationRequested;

        public string? AbortReason => Volatile.Read(ref _abortReason);

        public int UnackedCount
        {
            get
            {
                lock (_gate)
                {
                    return _sent.Count;
                }
            }
        }

        public DateTimeOffset? OldestCapture
        {
            get
            {
                lock (_gate)
                {
                    return _sent.Count > 0 ? _sent.Peek().Capture : null;
                }
            }
        }

        /// <summary>Timestamp since which unacknowledged records have waited without any ack progress.</summary>
        public long? WaitingSince
        {
            get
            {
                lock (_gate)
                {
                    return _sent.Count > 0 ? _waitingSince : null;
                }
            }
        }

        public void AddSent(IReadOnlyList<BufferedRecord> batch, long now)
        {
            lock (_gate)
            {
                if (_sent.Count == 0)
                {
                    _waitingSince = now;
                }

                foreach (var r in batch)
                {
                    _sent.Enqueue((r.Sequence, r.WallClock));
                }
            }
        }

        /// <summary>Cumulative ack in send order: everything sent up to and including <paramref name="sequence"/>.</summary>
        public List<long> AckThrough(long sequence, long now)
        {
            var acked = new List<long>();
            lock (_gate)
            {
                if (!_sent.Any(s => s.Sequence == sequence))
                {
                    return acked; // a stale or unknown ack: nothing sent on this connection matches
                }

                while (_sent.TryDequeue(out var s))
                {
                    acked.Add(s.Sequence);
                    if (s.Sequence == sequence)
                    {
                        break;
                    }
                }

                _waitingSince = now;
            }

            return acked;
        }

        public void Abort(string? reason)
        {
            if (reason is not null)
            {
                Interlocked.CompareExchange(ref _abortReason, reason, null);
            }

            try
            {
                Closing.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }

            if (reason is not null)
            {
                Socket.Abort();
            }
        }

        public void Dispose()
        {
            Socket.Dispose();
            Closing.Dispose();
        }
    }
}
