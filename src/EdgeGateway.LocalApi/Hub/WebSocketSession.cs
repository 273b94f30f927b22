using System.Net.WebSockets;
using System.Text.Json;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Commands;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>The receive side of one WebSocket: limits, parsing, and the message vocabulary.</summary>
internal sealed class WebSocketSession
{
    private readonly HubClient _client;
    private readonly LocalHub _hub;
    private readonly CommandService _commands;
    private readonly PilotControl _control;
    private readonly IDroneFleet _fleet;
    private readonly LocalApiLimitOptions _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private double _tokens;
    private long _lastRefill;
    private long[]? _refusedAt; // ring of the last FloodCloseAfter refusal times (allocated on the first refusal)
    private int _refusedNext;
    private int _refusedCount;
    private long _lastRateError;
    private int _commandsInFlight;

    public WebSocketSession(HubClient client, LocalHub hub, CommandService commands, PilotControl control, IDroneFleet fleet,
        LocalApiLimitOptions limits, TimeProvider time, ILogger logger)
    {
        _client = client;
        _hub = hub;
        _commands = commands;
        _control = control;
        _fleet = fleet;
        _limits = limits;
        _time = time;
        _logger = logger;
        _tokens = limits.MessageBurst;
        _lastRefill = time.GetTimestamp();
    }

    /// <summary>
    /// After a 1009, how much more of the oversize message is read (and thrown away) hoping it ends, so the close
    /// handshake and a pilot's emergency can still follow; a peer that keeps sending is dropped after the close frame.
    /// Together with the first <c>MaxFrameBytes + 1</c> bytes, at most <c>MaxFrameBytes + DrainAllowance</c> are read.
    /// </summary>
    internal const int DrainAllowance = 64 * 1024;

    public async Task ReceiveLoopAsync(CancellationToken aborted)
    {
        var socket = _client.Socket;
        var buffer = new byte[Math.Min(1024, _limits.MaxFrameBytes + 1)];
        var length = 0;
        // >= 0 while the rest of an oversize message is being discarded: how much of it was read after the 1009.
        long drained = -1;
        long oversizeRead = 0;
        while (socket.State is WebSocketState.Open or WebSocketState.CloseSent)
        {
            if (drained < 0 && length == buffer.Length)
            {
                // Never more than MaxFrameBytes + 1: one byte over is enough to know, and ReceiveAsync hands over payload
                // as it arrives, so a frame that declares a huge length is refused before its payload is read.
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, _limits.MaxFrameBytes + 1));
            }

            var window = drained < 0
                ? buffer.AsMemory(length)
                : buffer.AsMemory(0, (int)Math.Min(buffer.Length, DrainAllowance - 1 - drained));
            var result = await socket.ReceiveAsync(window, aborted).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                _client.RequestClose(1000, "bye", "client_closed");
                return;
            }

            _client.MarkReceived();
            if (drained >= 0)
            {
                drained += result.Count;
                if (result.EndOfMessage)
                {
                    // It ended within the allowance: go on reading frames while closing (the peer's close, an emergency).
                    drained = -1;
                    continue;
                }

                if (drained >= DrainAllowance - 1)
                {
                    // Still sending: stop reading. The session ends, the close frame goes out, the connection is dropped.
                    _logger.OversizeMessageAbandoned(_client.Id, oversizeRead + drained);
                    _client.SetReasonIfUnset("message_too_big");
                    return;
                }

                continue;
            }

            length += result.Count;
            if (length > _limits.MaxFrameBytes)
            {
                // The running total of this message (all its fragments so far) is over the limit: 1009 now, not at its end.
                oversizeRead = length;
                length = 0;
                _hub.Metrics.MessagesIn.Add(1);
                _logger.OversizeMessage(_client.Id, _limits.MaxFrameBytes, oversizeRead);
                _client.RequestClose(1009, $"message larger than {_limits.MaxFrameBytes} bytes", "message_too_big");
                drained = result.EndOfMessage ? -1 : 0;
                continue;
            }

            if (!result.EndOfMessage)
            {
                continue;
            }

            var messageLength = length;
            length = 0;
            var frame = buffer.AsSpan(0, messageLength);
            var text = result.MessageType == WebSocketMessageType.Text;
            if (_client.CloseRequested)
            {
                // Closing: read until the peer's close and ignore the rest, except an emergency from a pilot, which is
                // honoured while the socket is still readable (its result cannot be sent any more; the audit event is).
                if (text && IsPilotEmergency(frame))
                {
                    _hub.Metrics.MessagesIn.Add(1);
                    Handle(frame);
                }

                continue;
            }

            _hub.Metrics.MessagesIn.Add(1);
            _control.Touch(_client.Principal.Identity);
            if (!TryTakeToken())
            {
                // Over the rate: an emergency from a pilot still goes through (it bypasses every queue and limit).
                if (text && IsPilotEmergency(frame))
                {
                    Handle(frame);
                }
                else
                {
                    Refuse();
                }

                continue;
            }

            if (!text)
            {
                _client.Send(JsonOut.Error(ApiErrors.BinaryNotSupported, "binary frames are not supported; send JSON text frames"));
                continue;
            }

            Handle(frame);
        }
    }

    /// <summary>Token bucket per connection: true when the message is within the rate.</summary>
    private bool TryTakeToken()
    {
        var now = _time.GetTimestamp();
        _tokens = Math.Min(_limits.MessageBurst, _tokens + _time.GetElapsedTime(_lastRefill, now).TotalSeconds * _limits.MessagesPerSecond);
        _lastRefill = now;
        if (_tokens >= 1)
        {
            _tokens -= 1;
            return true;
        }

        return false;
    }

    /// <summary>
    /// A refused message. Refusals are counted in a sliding window of <c>FloodWindowSeconds</c> (admitted messages in
    /// between do not reset the count, so a steady flood that the bucket partly admits is still caught): the first
    /// refusal in a window gets one <c>rate_limited</c> error frame, <c>FloodCloseAfter</c> refusals within the window
    /// close the connection with 1008.
    /// </summary>
    private void Refuse()
    {
        var now = _time.GetTimestamp();
        var window = TimeSpan.FromSeconds(_limits.FloodWindowSeconds);
        var ring = _refusedAt ??= new long[_limits.FloodCloseAfter];
        ring[_refusedNext] = now;
        _refusedNext = (_refusedNext + 1) % ring.Length;
        _refusedCount = Math.Min(_refusedCount + 1, ring.Length);
        // With the ring full, _refusedNext points at the oldest of the last FloodCloseAfter refusals.
        if (_refusedCount == ring.Length && _time.GetElapsedTime(ring[_refusedNext], now) <= window)
        {
            _logger.ClientFlooded(_client.Id, _client.Principal.Identity, ring.Length, _limits.FloodWindowSeconds);
            _client.RequestClose(1008, "message rate limit exceeded", "flood");
            return;
        }

        if (_lastRateError == 0 || _time.GetElapsedTime(_lastRateError, now) >= window)
        {
            _lastRateError = Math.Max(1, now);
            _client.Send(JsonOut.Error(ApiErrors.RateLimited,
                $"more than {_limits.MessagesPerSecond:0.#} messages per second; messages are being refused, keep on and the connection is closed"));
        }
    }

    /// <summary>
    /// True for a <c>command</c> frame whose action is <c>emergency</c> (or <c>drone_emergency</c>) from a pilot or
    /// admin. Parsed only when the frame would otherwise be refused, so the hot path parses once.
    /// </summary>
    private bool IsPilotEmergency(ReadOnlySpan<byte> utf8)
    {
        if (_client.Principal.Role < ClientRole.Pilot)
        {
            return false;
        }

        return ClientMessageReader.TryRead(utf8, out var message, out _) == ClientMessageError.None
            && message!.Type == "command" && message.Action is { } action && DroneActions.Normalize(action) == "emergency";
    }

    private void Handle(ReadOnlySpan<byte> utf8)
    {
        switch (ClientMessageReader.TryRead(utf8, out var message, out var detail))
        {
            case ClientMessageError.InvalidJson:
                _client.Send(JsonOut.Error(ApiErrors.InvalidJson, "frame is not valid JSON: " + detail));
                return;
            case ClientMessageError.NotObject:
                _client.Send(JsonOut.Error(ApiErrors.InvalidJson, "frame must be a JSON object with a \"type\""));
                return;
        }

        var requestId = message!.RequestId;
        if (message.Type is not { } type)
        {
            _client.Send(JsonOut.Error(ApiErrors.InvalidRequest, "\"type\" is required (a string)", requestId));
            return;
        }

        switch (type)
        {
            case "ping":
                Pong(message);
                break;
            case "subscribe":
                Subscribe(message, requestId);
                break;
            case "unsubscribe":
                Unsubscribe(message, requestId);
                break;
            case "command":
                RunCommand(new CommandRequest(message.Action, message.Parameters, message.DroneId), requestId, "command_result");
                break;
            case "take_control" or "release_control":
                RunCommand(new CommandRequest(type, default, message.DroneId), requestId, type == "take_control" ? "control_granted" : "control_released");
                break;
            default:
                _client.Send(JsonOut.Error(ApiErrors.UnknownType,
                    $"unknown message type \"{(type.Length > 40 ? type[..40] : type)}\"; known: ping, subscribe, unsubscribe, command, take_control, release_control",
                    requestId));
                break;
        }
    }

    private void Pong(ClientMessage message)
    {
        _client.Send(JsonOut.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "pong");
            if (message.Timestamp is { } ts)
            {
                w.WritePropertyName("timestamp");
                ts.WriteTo(w);
            }
            else
            {
                w.WriteNull("timestamp");
            }

            w.WriteNumber("server_time", _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            w.WriteEndObject();
        }));
    }

    private void Subscribe(ClientMessage message, JsonElement? requestId)
    {
        if (!TryChannel(message, requestId, out var channel) || !TrySource(message, channel, requestId, out var source))
        {
            return;
        }

        double? maxHz = null;
        if (message.MaxHz is { } hz)
        {
            if (hz.ValueKind != JsonValueKind.Number || !hz.TryGetDouble(out var v) || !(v > 0) || v > 1000)
            {
                _client.Send(JsonOut.Error(ApiErrors.InvalidParameter, "max_hz must be a number greater than 0 and at most 1000", requestId));
                return;
            }

            maxHz = v;
        }

        var minInterval = maxHz is { } m ? (long)(_time.TimestampFrequency / m) : 0;
        _client.Subscribe(new Subscription(channel, source, maxHz, minInterval));
        _client.Send(JsonOut.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "subscribed");
            w.WriteString("channel", channel);
            w.WriteString("drone_id", source ?? "*");
            if (maxHz is { } mh)
            {
                w.WriteNumber("max_hz", mh);
            }
            else
            {
                w.WriteNull("max_hz");
            }

            if (requestId is { } id)
            {
                w.WritePropertyName("request_id");
                id.WriteTo(w);
            }

            w.WriteEndObject();
        }));

        if (channel == HubChannels.StatusUpdates)
        {
            // The current state at once, so a new client need not wait for the next datagram (or for a dead link).
            foreach (var link in _fleet.Drones)
            {
                if (source is null || source == link.Id)
                {
                    var status = link.Status;
                    _client.Send(StatusJson.StatusUpdateFrame(status, status.State, status.LastStateAt));
                }
            }
        }
    }

    private void Unsubscribe(ClientMessage message, JsonElement? requestId)
    {
        if (!TryChannel(message, requestId, out var channel))
        {
            return;
        }

        var source = message.DroneId != "*" ? message.DroneId : null;
        _client.Unsubscribe(channel, source);
        _client.Send(JsonOut.Build(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "unsubscribed");
            w.WriteString("channel", channel);
            w.WriteString("drone_id", source ?? "*");
            w.WriteEndObject();
        }));
    }

    private bool TryChannel(ClientMessage message, JsonElement? requestId, out string channel)
    {
        channel = message.Channel ?? "";
        if (channel.Length == 0)
        {
            _client.Send(JsonOut.Error(ApiErrors.InvalidRequest, "\"channel\" is required, e.g. \"status_updates\"", requestId));
            return false;
        }

        if (!_hub.HasChannel(channel))
        {
            _client.Send(JsonOut.Error(ApiErrors.UnknownChannel,
                $"unknown channel \"{(channel.Length > 40 ? channel[..40] : channel)}\"; known: {string.Join(", ", _hub.Channels.Order())}", requestId));
            return false;
        }

        return true;
    }

    private bool TrySource(ClientMessage message, string channel, JsonElement? requestId, out string? source)
    {
        source = null;
        var given = message.DroneId;
        if (given == "*")
        {
            return true;
        }

        var droneChannel = channel is HubChannels.StatusUpdates or HubChannels.Events;
        if (given is null)
        {
            // status_updates defaults to the first configured drone; other channels to every source.
            source = channel == HubChannels.StatusUpdates && _fleet.Drones.Count > 0 ? _fleet.Drones[0].Id : null;
            return true;
        }

        if (droneChannel && _fleet.Find(given) is null)
        {
            _client.Send(JsonOut.Error(ApiErrors.UnknownDrone,
                $"unknown drone_id \"{(given.Length > 40 ? given[..40] : given)}\"; known: {string.Join(", ", _fleet.Drones.Select(x => x.Id))}", requestId));
            return false;
        }

        source = given;
        return true;
    }

    private void RunCommand(CommandRequest request, JsonElement? requestId, string replyType)
    {
        var isEmergency = request.Action is not null && DroneActions.Normalize(request.Action) == "emergency";
        // Emergency is never refused for being one too many.
        if (!isEmergency && Interlocked.Increment(ref _commandsInFlight) > _limits.MaxCommandsInFlight)
        {
            Interlocked.Decrement(ref _commandsInFlight);
            _client.Send(JsonOut.Error(ApiErrors.TooManyCommands,
                $"more than {_limits.MaxCommandsInFlight} commands in flight on this connection; wait for results", requestId));
            return;
        }

        _ = RunCommandAsync(request, requestId, replyType, countsInFlight: !isEmergency);
    }

    private async Task RunCommandAsync(CommandRequest request, JsonElement? requestId, string replyType, bool countsInFlight)
    {
        try
        {
            var reply = await _commands.ExecuteAsync(request, _client.Principal, onSocket: true, CancellationToken.None).ConfigureAwait(false);
            if (replyType != "command_result" && !reply.Success)
            {
                _client.Send(JsonOut.Error(reply.Code ?? ApiErrors.Internal, reply.Message, requestId, w =>
                {
                    w.WriteString("drone_id", reply.DroneId);
                    if (reply.Data is { } data && data.TryGetValue("holder", out var holder))
                    {
                        JsonOut.WriteValue(w, "holder", holder);
                    }
                }));
                return;
            }

            _client.Send(JsonOut.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", replyType);
                if (requestId is { } id)
                {
                    w.WritePropertyName("request_id");
                    id.WriteTo(w);
                }

                w.WriteString("action", request.Action is null ? null : DroneActions.Normalize(request.Action));
                w.WriteString("drone_id", reply.DroneId);
                w.WriteBoolean("success", reply.Success);
                w.WriteString("message", reply.Message);
                if (!reply.Success)
                {
                    w.WriteString("error", reply.Message);
                    w.WriteString("code", reply.Code);
                }

                JsonOut.WriteValue(w, "data", reply.Data ?? new Dictionary<string, object?>());
                w.WriteEndObject();
            }));
        }
        catch (Exception e)
        {
            _logger.CommandFailed(_client.Id, request.Action ?? "", e);
            _client.Send(JsonOut.Error(ApiErrors.Internal, "internal error running the command", requestId));
        }
        finally
        {
            if (countsInFlight)
            {
                Interlocked.Decrement(ref _commandsInFlight);
            }
        }
    }
}
