using System.Net.Http;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;

namespace EdgeGateway.Mqtt;

/// <summary>
/// MQTT over WebSocket (MQTT 5.0 §6 / 3.1.1 §6): the HTTP upgrade with subprotocol <c>mqtt</c>, then binary frames.
/// The connection is turned into a byte stream, so everything above it (CONNECT, keepalive, resend, limits) is the same
/// code as over TCP, and frame boundaries mean nothing: a packet may span frames and a frame may hold several packets.
/// </summary>
public sealed partial class MqttClient
{
    internal const string WebSocketSubprotocol = "mqtt";

    /// <summary>The URL of the upgrade: ws:// or wss:// (with <see cref="MqttClientOptions.Tls"/>) to Host:Port/Path.</summary>
    internal Uri WebSocketUri => new UriBuilder(_options.Tls.Enabled ? "wss" : "ws", _options.Host, _options.EffectivePort)
    {
        Path = PathOf(_options.WebSocket.Path),
        Query = QueryOf(_options.WebSocket.Path),
    }.Uri;

    private static string PathOf(string pathAndQuery) => pathAndQuery.Split('?', 2)[0];

    private static string QueryOf(string pathAndQuery) => pathAndQuery.Split('?', 2) is [_, var q] ? q : "";

    /// <summary>
    /// TCP (through the proxy from the environment when there is one), TLS for wss, the upgrade: within
    /// <see cref="MqttClientOptions.ConnectTimeout"/> plus <see cref="MqttClientOptions.TlsHandshakeTimeout"/>.
    /// </summary>
    private async Task<(Stream? Stream, MqttConnectResult? Failure)> OpenWebSocketAsync(CancellationToken cancellationToken)
    {
        var problem = new ValidationProblem();
        // One handler per attempt: it only carries this connection (an upgraded connection leaves the pool at once).
        using var handler = new SocketsHttpHandler
        {
            ConnectTimeout = _options.ConnectTimeout,
            UseProxy = _options.WebSocket.UseProxy,
            // null: HttpClient.DefaultProxy, i.e. https_proxy / http_proxy / all_proxy / no_proxy.
            Proxy = _options.WebSocketProxy,
            SslOptions = _options.Tls.Enabled ? TlsClientOptions(problem) : new(),
            AllowAutoRedirect = false,
        };
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
        var socket = new ClientWebSocket();
        socket.Options.AddSubProtocol(WebSocketSubprotocol);
        // MQTT keeps the link alive (PINGREQ) and detects a dead one itself; WebSocket pings would only add traffic.
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.HttpVersion = System.Net.HttpVersion.Version11;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        if (_options.Tls.Enabled && _options.Tls.TargetHost is { Length: > 0 } target)
        {
            // The name checked against the certificate (and sent as SNI) when it is not the host we dial.
            socket.Options.SetRequestHeader("Host", target);
        }

        var limit = _options.ConnectTimeout + (_options.Tls.Enabled ? _options.TlsHandshakeTimeout : TimeSpan.Zero);
        using var cts = Timeout(limit, cancellationToken);
        try
        {
            await socket.ConnectAsync(WebSocketUri, invoker, cts.Token).ConfigureAwait(false);
            if (socket.SubProtocol != WebSocketSubprotocol)
            {
                socket.Abort();
                socket.Dispose();
                return (null, new MqttConnectResult(ConnectOutcome.WebSocketUpgradeFailed,
                    Detail: $"the server did not accept the WebSocket subprotocol '{WebSocketSubprotocol}'"));
            }

            // Each write is one binary message; a close handshake on dispose is bounded.
            return (WebSocketStream.Create(socket, WebSocketMessageType.Binary, _options.DisconnectTimeout), null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            return (null, new MqttConnectResult(ConnectOutcome.TcpConnectTimeout, Detail: $"no WebSocket connection to {WebSocketUri} within {limit}"));
        }
        catch (Exception e) when (e is WebSocketException or HttpRequestException or IOException)
        {
            socket.Dispose();
            return (null, ClassifyUpgradeFailure(e, problem.Text));
        }
    }

    /// <summary>Maps a failed upgrade to the outcome the supervisor already knows how to back off from.</summary>
    private MqttConnectResult ClassifyUpgradeFailure(Exception e, string? validationProblem)
    {
        var uri = WebSocketUri;
        var proxies = _options.WebSocketProxy ?? HttpClient.DefaultProxy;
        // GetProxy answers the destination itself for a bypassed host: only a different URI is a proxy.
        var via = _options.WebSocket.UseProxy && !proxies.IsBypassed(uri) && proxies.GetProxy(uri) is { } proxy && proxy != uri
            ? $" (through the proxy {proxy.GetLeftPart(UriPartial.Authority)})"
            : "";
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            switch (x)
            {
                case AuthenticationException:
                    return new MqttConnectResult(ConnectOutcome.TlsHandshakeFailed, Detail: validationProblem ?? x.Message);
                case SocketException se:
                    return new MqttConnectResult(ConnectOutcome.TcpConnectFailed, Detail: $"{se.SocketErrorCode}: {se.Message}{via}");
                case TimeoutException:
                    return new MqttConnectResult(ConnectOutcome.TcpConnectTimeout, Detail: $"{x.Message}{via}");
            }
        }

        if (validationProblem is not null)
        {
            return new MqttConnectResult(ConnectOutcome.TlsHandshakeFailed, Detail: validationProblem);
        }

        var innermost = e;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        var detail = innermost == e ? e.Message : $"{e.Message} {innermost.Message}";
        return new MqttConnectResult(ConnectOutcome.WebSocketUpgradeFailed, Detail: $"{detail}{via}");
    }
}
