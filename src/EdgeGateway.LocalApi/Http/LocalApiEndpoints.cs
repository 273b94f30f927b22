using System.Net.WebSockets;
using System.Text.Json;
using EdgeGateway.Drones;
using EdgeGateway.Health;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Commands;
using EdgeGateway.LocalApi.Hub;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace EdgeGateway.LocalApi.Http;

/// <summary>
/// The HTTP calls and the WebSocket upgrade. Handlers are plain request delegates so that every
/// failure, including malformed JSON and exceptions, is answered with the JSON error shape.
/// </summary>
internal sealed class LocalApiEndpoints
{
    private readonly IDroneFleet _fleet;
    private readonly ClientAuthenticator _auth;
    private readonly HostAllowList _hosts;
    private readonly CommandService _commands;
    private readonly PilotControl _control;
    private readonly LocalHub _hub;
    private readonly LocalApiLimitOptions _limits;
    private readonly LocalApiFailsafeOptions _failsafe;
    private readonly LocalApiCommandOptions _commandOptions;
    private readonly ClientRole _healthDetailRole;
    private readonly ClientRole _metricsRole;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggers;
    private long _nextConnectionId;
    private int _openSockets;

    public LocalApiEndpoints(IDroneFleet fleet, ClientAuthenticator auth, HostAllowList hosts, CommandService commands, PilotControl control, LocalHub hub,
        IOptions<LocalApiOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _fleet = fleet;
        _auth = auth;
        _hosts = hosts;
        _commands = commands;
        _control = control;
        _hub = hub;
        _limits = options.Value.Limits;
        _failsafe = options.Value.Failsafe;
        _commandOptions = options.Value.Commands;
        _healthDetailRole = RoleNames.TryParse(options.Value.Auth.HealthDetailRole, out var hr) ? hr.Value : ClientRole.Observer;
        _metricsRole = RoleNames.TryParse(options.Value.Auth.MetricsRole, out var mr) ? mr.Value : ClientRole.Observer;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger("EdgeGateway.LocalApi.Http");
    }

    public Task StatusAsync(HttpContext context) => GuardAsync(context, "status", HttpMethods.Get, async () =>
    {
        if (await AuthenticateAsync(context) is not { } who)
        {
            return;
        }

        _control.Touch(who.Identity);
        var droneId = context.Request.Query["drone_id"].ToString();
        var link = _commands.Resolve(droneId.Length == 0 ? null : droneId);
        if (link is null && droneId.Length == 0)
        {
            // No drone configured: the gateway itself is healthy, and the agent backend's health check is "any 200".
            await WriteJsonAsync(context, 200, StatusJson.WriteNoDroneObject);
            return;
        }

        if (link is null)
        {
            await ErrorAsync(context, ApiErrors.UnknownDrone, $"unknown drone_id \"{droneId}\"");
            return;
        }

        var status = link.Status;
        await WriteJsonAsync(context, 200, w => StatusJson.WriteStatusObject(w, status, status.State, status.LastStateAt));
    });

    public Task DronesAsync(HttpContext context) => GuardAsync(context, "drones", HttpMethods.Get, async () =>
    {
        if (await AuthenticateAsync(context) is not { } who)
        {
            return;
        }

        _control.Touch(who.Identity);
        await WriteJsonAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("default_drone_id", DefaultDroneId);
            w.WriteStartArray("drones");
            foreach (var link in _fleet.Drones)
            {
                var status = link.Status;
                w.WriteStartObject();
                w.WriteString("drone_id", link.Id);
                w.WriteString("address", status.Address);
                w.WriteString("controlled_by", _control.HolderOf(link.Id));
                w.WriteBoolean("failsafe_active", _control.IsInFailsafe(link.Id));
                WriteControl(w, _control.Describe(link.Id));
                w.WritePropertyName("status");
                StatusJson.WriteStatusObject(w, status, status.State, status.LastStateAt);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        });
    });

    /// <summary>
    /// What a console needs to know about the gateway and about the caller: version, uptime, the caller's identity and
    /// role, and the limits that decide which controls are allowed (takeoff battery minimum, failsafe timings).
    /// </summary>
    public Task GatewayAsync(HttpContext context) => GuardAsync(context, "gateway", HttpMethods.Get, async () =>
    {
        if (await AuthenticateAsync(context) is not { } who)
        {
            return;
        }

        var now = _time.GetUtcNow();
        await WriteJsonAsync(context, 200, w =>
        {
            w.WriteStartObject();
            w.WriteString("version", GatewayInfo.Version);
            w.WriteString("started_at", GatewayInfo.StartedAt);
            w.WriteNumber("uptime_s", Math.Round((now - GatewayInfo.StartedAt).TotalSeconds, 1));
            w.WriteNumber("server_time", now.ToUnixTimeMilliseconds() / 1000.0);
            w.WriteStartObject("you");
            w.WriteString("identity", who.Identity);
            w.WriteString("role", RoleNames.Name(who.Role));
            w.WriteString("via", who.Via);
            w.WriteEndObject();
            w.WriteString("default_drone_id", DefaultDroneId);
            w.WriteNumber("min_takeoff_battery_percent", _commandOptions.MinTakeoffBatteryPercent);
            w.WriteStartObject("failsafe");
            w.WriteBoolean("enabled", _failsafe.Enabled);
            w.WriteNumber("pilot_silence_s", _failsafe.PilotSilenceSeconds);
            w.WriteNumber("land_grace_s", _failsafe.LandGraceSeconds);
            w.WriteEndObject();
            w.WriteNumber("max_frame_bytes", _limits.MaxFrameBytes);
            w.WriteEndObject();
        });
    });

    /// <summary>The first configured drone: what a request without <c>drone_id</c> means.</summary>
    private string? DefaultDroneId => _fleet.Drones.Count > 0 ? _fleet.Drones[0].Id : null;

    private static void WriteControl(Utf8JsonWriter w, ControlSnapshot c)
    {
        w.WriteStartObject("control");
        w.WriteString("holder", c.Holder);
        if (c.Since is { } since)
        {
            w.WriteString("since", since);
        }
        else
        {
            w.WriteNull("since");
        }

        w.WriteBoolean("holder_on_socket", c.HolderOnSocket);
        JsonOut.WriteValue(w, "holder_silent_s", c.HolderSilentSeconds is { } s ? Math.Round(s, 1) : null);
        w.WriteBoolean("failsafe_hovering", c.FailsafeHovering);
        JsonOut.WriteValue(w, "land_in_s", c.LandInSeconds is { } l ? Math.Round(l, 1) : null);
        w.WriteEndObject();
    }

    public Task ExecuteAsync(HttpContext context) => GuardAsync(context, "execute", HttpMethods.Post, async () =>
    {
        if (await AuthenticateAsync(context) is not { } who)
        {
            return;
        }

        _control.Touch(who.Identity);
        var contentType = context.Request.ContentType;
        if (!string.IsNullOrEmpty(contentType)
            && !(MediaTypeHeaderValue.TryParse(contentType, out var media)
                 && (media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
                     || media.MediaType.Value?.EndsWith("+json", StringComparison.OrdinalIgnoreCase) == true)))
        {
            await ErrorAsync(context, ApiErrors.UnsupportedMediaType, $"Content-Type must be application/json (got \"{contentType}\")");
            return;
        }

        if (context.Request.ContentLength > _limits.MaxHttpBodyBytes)
        {
            await ErrorAsync(context, ApiErrors.BodyTooLarge, $"body larger than {_limits.MaxHttpBodyBytes} bytes");
            return;
        }

        var body = await ReadBodyAsync(context.Request, _limits.MaxHttpBodyBytes + 1, context.RequestAborted);
        if (body.Length > _limits.MaxHttpBodyBytes)
        {
            await ErrorAsync(context, ApiErrors.BodyTooLarge, $"body larger than {_limits.MaxHttpBodyBytes} bytes");
            return;
        }

        switch (ClientMessageReader.TryRead(body, out var message, out var detail))
        {
            case ClientMessageError.InvalidJson:
                await ErrorAsync(context, ApiErrors.InvalidJson, "body is not valid JSON: " + detail);
                return;
            case ClientMessageError.NotObject:
                await ErrorAsync(context, ApiErrors.InvalidJson, "body must be a JSON object {\"action\": ..., \"parameters\": {...}}");
                return;
        }

        var parameters = message!.Parameters;
        var droneId = message.DroneId ?? context.Request.Query["drone_id"].FirstOrDefault();
        if (parameters.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Null or JsonValueKind.Object))
        {
            await ErrorAsync(context, ApiErrors.InvalidParameter, "\"parameters\" must be an object");
            return;
        }

        var reply = await _commands.ExecuteAsync(new CommandRequest(message.Action, parameters, droneId), who, onSocket: false, context.RequestAborted);
        await WriteJsonAsync(context, reply.Success ? 200 : ApiErrors.HttpStatus(reply.Code!), w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("success", reply.Success);
            if (reply.Success)
            {
                w.WriteString("message", reply.Message);
            }
            else
            {
                w.WriteString("error", reply.Message);
                w.WriteString("code", reply.Code);
            }

            JsonOut.WriteValue(w, "data", reply.Data ?? new Dictionary<string, object?>());
            w.WriteEndObject();
        });
    });

    public Task NotFoundAsync(HttpContext context) => GuardAsync(context, "not_found", null,
        () => ErrorAsync(context, ApiErrors.NotFound, $"no such API route: {context.Request.Method} {context.Request.Path}; see docs/protocol.md"));

    public async Task WebSocketAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await GuardAsync(context, "ws", null, () => ErrorAsync(context, ApiErrors.InvalidRequest, "/ws expects a WebSocket upgrade"));
            return;
        }

        if (!OriginAllowed(context))
        {
            await GuardAsync(context, "ws", null, () => ErrorAsync(context, ApiErrors.OriginNotAllowed,
                $"origin {context.Request.Headers.Origin} is not allowed; add it to LocalApi:Limits:AllowedOrigins"));
            return;
        }

        var id = Interlocked.Increment(ref _nextConnectionId);
        var remote = context.Connection.RemoteIpAddress?.ToString();
        var outcome = _auth.Authenticate(context, "conn:" + id, out var who);
        var accept = new WebSocketAcceptContext
        {
            KeepAliveInterval = TimeSpan.FromSeconds(_limits.KeepAliveIntervalSeconds),
            KeepAliveTimeout = _limits.KeepAliveTimeoutSeconds > 0 ? TimeSpan.FromSeconds(_limits.KeepAliveTimeoutSeconds) : Timeout.InfiniteTimeSpan,
            // A browser that offers its token as a subprotocol also offers this one; a browser fails the connection
            // unless the server selects one of the protocols it offered.
            SubProtocol = context.WebSockets.WebSocketRequestedProtocols.Contains(ClientAuthenticator.Subprotocol)
                ? ClientAuthenticator.Subprotocol : null,
        };
        var reserved = Interlocked.Increment(ref _openSockets);
        var released = false;
        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync(accept);
            if (who is null)
            {
                _logger.AuthFailed(remote, "/ws", outcome.ToString());
                _hub.Metrics.Disconnects.Add(1, new KeyValuePair<string, object?>("reason", "unauthorized"));
                await RefuseAsync(socket, JsonOut.Error(ApiErrors.Unauthorized, RefusalText(outcome)), 1008, "authentication failed");
                return;
            }

            if (reserved > _limits.MaxConnections)
            {
                // A refused socket does not hold a slot while its close handshake runs.
                Interlocked.Decrement(ref _openSockets);
                released = true;
                _logger.TooManyConnections(remote, _limits.MaxConnections);
                _hub.Metrics.Disconnects.Add(1, new KeyValuePair<string, object?>("reason", "too_many_connections"));
                await RefuseAsync(socket, JsonOut.Error("too_many_connections",
                    $"the gateway already serves {_limits.MaxConnections} connections; try again later"), 1013, "too many connections");
                return;
            }

            await RunSessionAsync(context, socket, id, who, remote);
        }
        finally
        {
            if (!released)
            {
                Interlocked.Decrement(ref _openSockets);
            }
        }
    }

    private async Task RunSessionAsync(HttpContext context, WebSocket socket, long id, ClientPrincipal who, string? remote)
    {
        var logger = _loggers.CreateLogger("EdgeGateway.LocalApi.WebSocket");
        var client = new HubClient(id, socket, who, remote, _limits.SendQueueCapacity, _hub, _time, logger);
        logger.ClientConnected(id, remote, who.Identity, RoleNames.Name(who.Role), who.Via);
        _hub.Add(client);
        _control.SocketOpened(who.Identity);
        var writer = Task.Run(client.WriteLoopAsync);
        try
        {
            client.Send(JsonOut.Build(w =>
            {
                w.WriteStartObject();
                w.WriteString("type", "connection_established");
                w.WriteNumber("connection_id", id);
                w.WriteString("role", RoleNames.Name(who.Role));
                w.WriteString("identity", who.Identity);
                w.WriteString("default_drone_id", DefaultDroneId);
                w.WriteStartArray("drone_ids");
                foreach (var d in _fleet.Drones)
                {
                    w.WriteStringValue(d.Id);
                }

                w.WriteEndArray();
                w.WriteStartArray("channels");
                foreach (var c in _hub.Channels.Order())
                {
                    w.WriteStringValue(c);
                }

                w.WriteEndArray();
                w.WriteNumber("max_frame_bytes", _limits.MaxFrameBytes);
                w.WriteNumber("server_time", _time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
                w.WriteEndObject();
            }));
            var session = new WebSocketSession(client, _hub, _commands, _control, _fleet, _limits, _time, logger);
            await session.ReceiveLoopAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            client.SetReasonIfUnset(ReceiveFailureReason(e));
            if (client.DisconnectReason == "protocol_error")
            {
                logger.ClosedByProtocol(id, "protocol_error");
            }
        }
        catch (Exception e)
        {
            logger.ReceiveLoopFailed(id, e);
            client.RequestClose(1011, "internal error", "internal_error");
        }
        finally
        {
            client.RequestClose(1000, "bye", "client_closed");
            _hub.Remove(client);
            _control.SocketClosed(who.Identity);
            // Let the close frame go out; a stuck peer is aborted.
            if (await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(5))) != writer)
            {
                socket.Abort();
            }

            logger.ClientDisconnected(id, client.DisconnectReason);
        }
    }

    /// <summary>
    /// Why a receive failed. The WebSocket layer itself closes (1007 for a text frame that is not valid UTF-8, 1002
    /// for a framing error) and faults the receive without an inner exception, before the gateway sees the frame;
    /// a lost connection faults with the transport's exception inside.
    /// </summary>
    private static string ReceiveFailureReason(Exception e) => e switch
    {
        OperationCanceledException => "aborted",
        WebSocketException { WebSocketErrorCode: WebSocketError.Faulted, InnerException: null } => "protocol_error",
        _ => "connection_lost",
    };

    private static async Task RefuseAsync(WebSocket socket, byte[] error, int code, string description)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await socket.SendAsync(error, WebSocketMessageType.Text, true, timeout.Token);
            await socket.CloseOutputAsync((WebSocketCloseStatus)code, description, timeout.Token);
            // Wait briefly for the peer's close so it sees a clean handshake.
            var buffer = new byte[256];
            while (socket.State == WebSocketState.CloseSent)
            {
                var r = await socket.ReceiveAsync(buffer, timeout.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            socket.Abort();
        }
    }

    /// <summary>
    /// For read-only endpoints other capabilities map (sensors, buffer, telemetry): the same origin and
    /// token checks as the API's own; false when refused (the JSON error is already written).
    /// </summary>
    internal async Task<bool> AuthorizeReadAsync(HttpContext context) => await AuthenticateAsync(context) is not null;

    /// <summary>
    /// <c>/metrics</c>: needs <c>Auth:MetricsRole</c>. No principal (anonymous refused, bad token): 401; an anonymous
    /// client below the role: 401 (a token would help); a token or trusted network below it: 403.
    /// </summary>
    internal async Task<bool> AuthorizeMetricsAsync(HttpContext context)
    {
        if (await AuthenticateAsync(context) is not { } who)
        {
            return false;
        }

        if (who.Role >= _metricsRole)
        {
            return true;
        }

        var anonymous = who.Via == "anonymous";
        if (anonymous)
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
        }

        await ErrorAsync(context, anonymous ? ApiErrors.Unauthorized : ApiErrors.Forbidden,
            $"/metrics needs the {RoleNames.Name(_metricsRole)} role (LocalApi:Auth:MetricsRole)");
        return false;
    }

    /// <summary>
    /// <c>/healthz</c>: everyone gets the overall status (a probe needs no token); the per-component detail only a
    /// client with <c>Auth:HealthDetailRole</c> by token or trusted network. A bad or malformed token is still 401.
    /// </summary>
    internal async Task<bool> AuthorizeHealthAsync(HttpContext context)
    {
        if (!OriginAllowed(context))
        {
            await ErrorAsync(context, ApiErrors.OriginNotAllowed, $"origin {context.Request.Headers.Origin} is not allowed");
            return false;
        }

        var outcome = _auth.Authenticate(context, null, out var who);
        if (outcome is AuthOutcome.InvalidToken or AuthOutcome.MalformedAuthorization)
        {
            _logger.AuthFailed(context.Connection.RemoteIpAddress?.ToString(), context.Request.Path, outcome.ToString());
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(context, ApiErrors.Unauthorized, RefusalText(outcome));
            return false;
        }

        var details = who is not null && who.Via != "anonymous" && who.Role >= _healthDetailRole;
        context.Features.Set<IHealthDetailAccessFeature>(details ? HealthDetailAccess.Granted : HealthDetailAccess.Withheld);
        return true;
    }

    private sealed class HealthDetailAccess(bool includeDetails) : IHealthDetailAccessFeature
    {
        public static readonly HealthDetailAccess Granted = new(true);
        public static readonly HealthDetailAccess Withheld = new(false);

        public bool IncludeDetails => includeDetails;
    }

    private async Task<ClientPrincipal?> AuthenticateAsync(HttpContext context)
    {
        if (!OriginAllowed(context))
        {
            _logger.OriginRefused(context.Connection.RemoteIpAddress?.ToString(), context.Request.Headers.Origin.ToString());
            await ErrorAsync(context, ApiErrors.OriginNotAllowed, $"origin {context.Request.Headers.Origin} is not allowed");
            return null;
        }

        var outcome = _auth.Authenticate(context, null, out var who);
        if (who is null)
        {
            _logger.AuthFailed(context.Connection.RemoteIpAddress?.ToString(), context.Request.Path, outcome.ToString());
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await ErrorAsync(context, ApiErrors.Unauthorized, RefusalText(outcome));
        }

        return who;
    }

    private static string RefusalText(AuthOutcome outcome) => outcome switch
    {
        AuthOutcome.InvalidToken => "the token is not valid",
        AuthOutcome.MalformedAuthorization => "the Authorization header must be exactly \"Bearer <token>\" (one space, no other scheme)",
        _ => "a token is required (Authorization: Bearer <token>, or ?token= on /ws)",
    };

    /// <summary>
    /// The same Host and Origin rules as <see cref="HostFilterMiddleware"/> (which normally refused the request
    /// already), here too so an endpoint mapped without the filter stays safe.
    /// </summary>
    private bool OriginAllowed(HttpContext context)
        => _hosts.IsAllowedHost(context.Request.Host) && _hosts.IsAllowedOrigin(context.Request.Headers.Origin.ToString());

    private async Task GuardAsync(HttpContext context, string route, string? method, Func<Task> handler)
    {
        try
        {
            if (method is not null && !string.Equals(context.Request.Method, method, StringComparison.OrdinalIgnoreCase))
            {
                context.Response.Headers.Allow = method;
                await ErrorAsync(context, ApiErrors.MethodNotAllowed, $"{context.Request.Path} accepts {method} only");
            }
            else
            {
                await handler();
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (Exception e)
        {
            _logger.RequestFailed(context.Request.Method, context.Request.Path, e);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await ErrorAsync(context, ApiErrors.Internal, "internal error; see the gateway log");
            }
        }
        finally
        {
            _hub.Metrics.HttpRequests.Add(1, new KeyValuePair<string, object?>("route", route),
                new KeyValuePair<string, object?>("status", context.Response.StatusCode));
        }
    }

    internal static Task ErrorAsync(HttpContext context, string code, string message)
        => WriteJsonAsync(context, ApiErrors.HttpStatus(code), w =>
        {
            w.WriteStartObject();
            w.WriteBoolean("success", false);
            w.WriteString("error", message);
            w.WriteString("code", code);
            w.WriteEndObject();
        });

    internal static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        var bytes = JsonOut.Build(write);
        context.Response.ContentLength = bytes.Length;
        await context.Response.Body.WriteAsync(bytes, context.RequestAborted);
    }

    private static async Task<byte[]> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[4096];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length >= limit)
            {
                break; // enough to know it is too large
            }
        }

        return buffer.ToArray();
    }
}
