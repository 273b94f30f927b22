using System.Net.WebSockets;
using System.Threading.Channels;
using EdgeGateway.LocalApi.Auth;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>A subscription of one client. <see cref="SourceId"/> null = every source.</summary>
internal sealed record Subscription(string Channel, string? SourceId, double? MaxHz, long MinIntervalTicks);

/// <summary>
/// One connected WebSocket as the hub sees it: a bounded queue, latest-wins slots, and the one
/// writer loop that owns every send on the socket (including the close frame).
/// </summary>
internal sealed class HubClient
{
    private readonly WebSocket _socket;
    private readonly Channel<OutItem> _queue;
    private readonly Lock _gate = new();
    private readonly LocalHub _hub;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private ReadOnlyMemory<byte>?[] _latest = new ReadOnlyMemory<byte>?[4];
    private long[] _lastAccepted = new long[4];
    private volatile Subscription[] _subscriptions = [];
    private long _sendStarted;
    private long _lastReceived;
    private volatile bool _closeRequested;
    private int _closeCode;
    private string? _closeDescription;
    private string? _disconnectReason;

    public HubClient(long id, WebSocket socket, ClientPrincipal principal, string? remote, int queueCapacity,
        LocalHub hub, TimeProvider time, ILogger logger)
    {
        Id = id;
        _socket = socket;
        Principal = principal;
        Remote = remote;
        _hub = hub;
        _time = time;
        _logger = logger;
        _lastReceived = time.GetTimestamp();
        _queue = Channel.CreateBounded<OutItem>(new BoundedChannelOptions(queueCapacity)
        {
            // Never wait: TryWrite fails when full, and a full queue means the client is too far behind.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    private readonly record struct OutItem(ReadOnlyMemory<byte> Frame, int Slot);

    public long Id { get; }

    public ClientPrincipal Principal { get; }

    public string? Remote { get; }

    public WebSocket Socket => _socket;

    public bool CloseRequested => _closeRequested;

    public string DisconnectReason => Volatile.Read(ref _disconnectReason) ?? "client_closed";

    public IReadOnlyList<Subscription> Subscriptions => _subscriptions;

    public void MarkReceived() => Volatile.Write(ref _lastReceived, _time.GetTimestamp());

    public TimeSpan SinceLastReceived => _time.GetElapsedTime(Volatile.Read(ref _lastReceived));

    /// <summary>How long the send in progress has been running, or zero.</summary>
    public TimeSpan CurrentSendAge
    {
        get
        {
            var started = Volatile.Read(ref _sendStarted);
            return started == 0 ? TimeSpan.Zero : _time.GetElapsedTime(started);
        }
    }

    public void Subscribe(Subscription subscription)
    {
        lock (_gate)
        {
            _subscriptions = [.. _subscriptions.Where(s => s.Channel != subscription.Channel || s.SourceId != subscription.SourceId), subscription];
        }
    }

    public bool Unsubscribe(string channel, string? sourceId)
    {
        lock (_gate)
        {
            var before = _subscriptions.Length;
            _subscriptions = [.. _subscriptions.Where(s => s.Channel != channel || (sourceId is not null && s.SourceId != sourceId))];
            return _subscriptions.Length != before;
        }
    }

    /// <summary>Offers a published message; never blocks. Returns false when the client had to be closed.</summary>
    public void Offer(string channel, string? sourceId, int slot, ReadOnlyMemory<byte> frame, HubDelivery delivery)
    {
        if (_closeRequested)
        {
            return;
        }

        Subscription? match = null;
        foreach (var s in _subscriptions)
        {
            if (s.Channel == channel && (s.SourceId is null || sourceId is null || s.SourceId == sourceId))
            {
                match = s;
                break;
            }
        }

        if (match is null)
        {
            return;
        }

        if (delivery == HubDelivery.Queued)
        {
            if (!_queue.Writer.TryWrite(new OutItem(frame, -1)))
            {
                Overflowed();
            }

            return;
        }

        bool enqueue;
        lock (_gate)
        {
            if (slot >= _latest.Length)
            {
                Array.Resize(ref _latest, Math.Max(slot + 1, _latest.Length * 2));
                Array.Resize(ref _lastAccepted, _latest.Length);
            }

            if (match.MinIntervalTicks > 0)
            {
                // max_hz: updates sooner than 1/max_hz after the last accepted one are skipped (a rate, not a drop).
                var now = _time.GetTimestamp();
                if (_lastAccepted[slot] != 0 && now - _lastAccepted[slot] < match.MinIntervalTicks)
                {
                    return;
                }

                _lastAccepted[slot] = now;
            }

            enqueue = _latest[slot] is null;
            _latest[slot] = frame;
        }

        if (!enqueue)
        {
            _hub.Metrics.Superseded.Add(1);
        }
        else if (!_queue.Writer.TryWrite(new OutItem(default, slot)))
        {
            Overflowed();
        }
    }

    /// <summary>A direct reply (pong, error, command_result) to this client only.</summary>
    public void Send(ReadOnlyMemory<byte> frame)
    {
        if (!_closeRequested && !_queue.Writer.TryWrite(new OutItem(frame, -1)))
        {
            Overflowed();
        }
    }

    /// <summary>Asks the writer loop to send a close frame after the current send. First reason wins.</summary>
    public void RequestClose(int code, string description, string reason)
    {
        lock (_gate)
        {
            if (_closeRequested)
            {
                return;
            }

            _closeCode = code;
            _closeDescription = description;
            // A reason recorded before (SetReasonIfUnset after a receive error) is the truer one.
            Interlocked.CompareExchange(ref _disconnectReason, reason, null);
            _closeRequested = true;
        }

        _logger.ClosingClient(Id, code, description);
        _queue.Writer.TryComplete();
    }

    /// <summary>Tears the connection down without a close handshake (a client that stopped reading).</summary>
    public void Abort(string reason)
    {
        Interlocked.CompareExchange(ref _disconnectReason, reason, null);
        _closeRequested = true;
        _queue.Writer.TryComplete();
        _socket.Abort();
    }

    public void SetReasonIfUnset(string reason) => Interlocked.CompareExchange(ref _disconnectReason, reason, null);

    private void Overflowed()
    {
        _hub.Metrics.Dropped.Add(1);
        _logger.SlowClientDisconnected(Id, Principal.Identity, "send queue full");
        RequestClose(1013, "slow consumer: send queue full", "slow_consumer");
    }

    private async Task AbortUnlessClosedAsync()
    {
        // Network-level timeout on the real clock: it bounds a handshake, it is not behaviour under test.
        await Task.Delay(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (_socket.State != WebSocketState.Closed)
        {
            _socket.Abort();
        }
    }

    /// <summary>The only place that sends on the socket.</summary>
    public async Task WriteLoopAsync()
    {
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync().ConfigureAwait(false))
            {
                while (reader.TryRead(out var item))
                {
                    // Once a close is requested, replies and errors already queued still go out first (a flooding
                    // client gets its rate_limited error before the 1008); superseded state updates do not.
                    if (_closeRequested && item.Slot >= 0)
                    {
                        continue;
                    }

                    ReadOnlyMemory<byte> frame;
                    if (item.Slot >= 0)
                    {
                        lock (_gate)
                        {
                            frame = _latest[item.Slot] ?? default;
                            _latest[item.Slot] = null;
                        }
                    }
                    else
                    {
                        frame = item.Frame;
                    }

                    if (frame.IsEmpty)
                    {
                        continue;
                    }

                    Volatile.Write(ref _sendStarted, Math.Max(1, _time.GetTimestamp()));
                    await _socket.SendAsync(frame, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None).ConfigureAwait(false);
                    Volatile.Write(ref _sendStarted, 0);
                    _hub.Metrics.MessagesOut.Add(1);
                }

                if (_closeRequested)
                {
                    break;
                }
            }

            if (_closeRequested && _closeCode != 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                Volatile.Write(ref _sendStarted, Math.Max(1, _time.GetTimestamp()));
                await _socket.CloseOutputAsync((WebSocketCloseStatus)_closeCode, _closeDescription, timeout.Token).ConfigureAwait(false);
                Volatile.Write(ref _sendStarted, 0);
                // A peer that never answers the close must not hold the connection (and its slot) open.
                _ = AbortUnlessClosedAsync();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            _logger.SendFailed(Id, e.Message);
            SetReasonIfUnset("send_failed");
        }
        finally
        {
            // Nothing more will be sent; make the queue refuse further offers.
            _closeRequested = true;
            _queue.Writer.TryComplete();
        }
    }
}
