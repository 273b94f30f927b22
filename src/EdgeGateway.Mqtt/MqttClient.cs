using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;
using EdgeGateway.Mqtt.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Mqtt;

/// <summary>
/// An MQTT 3.1.1/5.0 client for a publish-mostly uplink. One instance is one logical session that survives
/// reconnects: QoS 1 messages stay owned by the client until PUBACKed and are resent (same id, DUP=1) on a
/// resumed session or republished with fresh ids on a new one. <see cref="ConnectAsync"/> makes one attempt;
/// <see cref="MqttConnection"/> supervises reconnects.
/// </summary>
public sealed partial class MqttClient : IAsyncDisposable
{
    private const byte ControlPubAck = 1;
    private const byte ControlPingReq = 2;
    private const byte ControlBytes = 3;
    private const byte ControlDisconnect = 4;

    private readonly MqttClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _sync = new();
    private readonly PacketIdAllocator _ids = new();
    private readonly OutgoingMessage?[] _byId = new OutgoingMessage?[65_536];
    private readonly MessageList _queue = new();
    private readonly MessageList _inflight = new();
    private readonly ConcurrentQueue<OutgoingMessage> _pool = new();
    private readonly SemaphoreSlim _capacity;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly Dictionary<ushort, TaskCompletionSource<byte[]>> _pendingSubscribes = [];
    private readonly List<MqttSubscription> _subscriptions = [];
    private readonly KeyValuePair<string, object?> _clientTag;

    private Connection? _connection;

    // The newest connection's Closed task, kept after the connection is gone: a supervisor that asks just after a
    // server DISCONNECT (which clears _connection) must still learn why it ended, not see "no connection".
    private Task<MqttDisconnectInfo?>? _lastClosed;
    private int _window;
    private long _serverMaxPacket;
    private bool _retainAvailable = true;
    private byte _serverMaxQos = 2;
    private OutgoingMessage? _poisonSuspect;
    private short _poisonSuspectVersion;

    /// <summary>
    /// True while the poison guard's suspect (3.1.1: the server closed the connection right after it was sent) is still
    /// waiting for its result: it then goes out alone. Under <see cref="_sync"/>.
    /// </summary>
    private bool IsProbingPoisonSuspect() => _poisonSuspect is { } s && s.Version == _poisonSuspectVersion
        && s.GetStatus(s.Version) == System.Threading.Tasks.Sources.ValueTaskSourceStatus.Pending;
    private bool _hasSessionState;
    private bool _forceCleanStart;
    private bool _disposed;
    private int _maxObservedInflight;

    public MqttClient(MqttClientOptions options, ILogger<MqttClient>? logger = null, TimeProvider? time = null)
    {
        var problems = options.Validate("Mqtt").ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid MQTT options: " + string.Join("; ", problems), nameof(options));
        }

        _options = options;
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _capacity = new SemaphoreSlim(options.MaxPending, options.MaxPending);
        _clientTag = new("client_id", options.ClientId);
    }

    public MqttClientOptions Options => _options;

    public bool IsConnected => Volatile.Read(ref _connection) is { IsOpen: true };

    /// <summary>Effective inflight window of the current connection: min(MaxInflight, server Receive Maximum).</summary>
    public int Window => Volatile.Read(ref _window);

    /// <summary>QoS 1 PUBLISHes transmitted and not yet acknowledged.</summary>
    public int InflightCount
    {
        get
        {
            lock (_sync)
            {
                return _inflight.Count;
            }
        }
    }

    /// <summary>Largest inflight count seen so far (for tests and diagnostics).</summary>
    public int MaxObservedInflight => Volatile.Read(ref _maxObservedInflight);

    /// <summary>Messages held (queued + inflight).</summary>
    public int PendingCount
    {
        get
        {
            lock (_sync)
            {
                return _queue.Count + _inflight.Count;
            }
        }
    }

    /// <summary>v5 Maximum QoS from the last CONNACK (2 when absent or on 3.1.1).</summary>
    public int ServerMaximumQos => Volatile.Read(ref _serverMaxQos);

    /// <summary>v5 Retain Available from the last CONNACK (true when absent or on 3.1.1).</summary>
    public bool ServerRetainAvailable => Volatile.Read(ref _retainAvailable);

    /// <summary>Server limits learned from the last CONNACK (v5), for the sink's diagnostics.</summary>
    public long ServerMaximumPacketSize => Volatile.Read(ref _serverMaxPacket);

    /// <summary>Connect and disconnect notifications. Handlers run on the client's loops: keep them short.</summary>
    public event Action<MqttConnectionStateChange>? StateChanged;

    /// <summary>Poison messages (never silently dropped): also returned as <see cref="PublishStatus.DeadLettered"/>.</summary>
    public event Action<MqttDeadLetter>? DeadLettered;

    /// <summary>Inbound PUBLISH handler, called serially in arrival order; the PUBACK follows its completion.</summary>
    public Func<MqttApplicationMessage, CancellationToken, ValueTask>? MessageReceived { get; set; }

    /// <summary>Completes when the current connection ends (immediately with null if not connected).</summary>
    public Task<MqttDisconnectInfo?> WaitForDisconnectAsync()
    {
        var c = Volatile.Read(ref _connection);
        return c is not null ? c.Closed.Task! : Volatile.Read(ref _lastClosed) ?? Task.FromResult<MqttDisconnectInfo?>(null);
    }

    /// <summary>
    /// Completes on the first PUBACK of the current connection; null when not connected. Never completes for a
    /// connection that ends first (race it with <see cref="WaitForDisconnectAsync"/>).
    /// </summary>
    public Task? WaitForFirstAcknowledgementAsync() => Volatile.Read(ref _connection)?.FirstAcknowledgement.Task;

    /// <summary>
    /// Publishes one message. QoS 1 completes on the PUBACK (in any order relative to other messages); while
    /// disconnected it waits in the client's bounded queue. <paramref name="payload"/> must stay unchanged until the
    /// returned task completes (it is resent from there). QoS 0 completes when written, or NotConnected.
    /// </summary>
    public ValueTask<PublishResult> PublishAsync(string topic, ReadOnlyMemory<byte> payload,
        MqttQualityOfService qos = MqttQualityOfService.AtLeastOnce, bool retain = false,
        IReadOnlyList<MqttUserProperty>? userProperties = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var invalid = Validate(topic, payload, qos, userProperties, out var topicBytes, out var propsSize);
        if (invalid is { } reason)
        {
            return new(DeadLetter(topic, payload, DeadLetterReason.InvalidMessage, 0, reason));
        }

        var size = MqttEncoder.PublishSize(_options.ProtocolVersion, topicBytes, payload.Length, qos, propsSize);
        if (size > _options.MaximumOutgoingPacketSize)
        {
            // Refused locally on both versions: a 3.1.1 broker over its limit just drops the link (rule 7).
            return new(DeadLetter(topic, payload, DeadLetterReason.PacketTooLarge, 0,
                $"{size} bytes exceed MaximumOutgoingPacketSize {_options.MaximumOutgoingPacketSize}"));
        }

        if (qos == MqttQualityOfService.AtMostOnce && !IsConnected)
        {
            return new(new PublishResult(PublishStatus.NotConnected));
        }

        // Not an async method: with room in the client the returned ValueTask wraps the pooled message itself, so the
        // common case allocates nothing (no state-machine box). The slot is given back when the result is read.
        return _capacity.Wait(0, CancellationToken.None)
            ? Enqueue(topic, topicBytes, payload, qos, retain, userProperties, propsSize)
            : PublishWhenRoomAsync(topic, topicBytes, payload, qos, retain, userProperties, propsSize, cancellationToken);
    }

    private async ValueTask<PublishResult> PublishWhenRoomAsync(string topic, int topicBytes, ReadOnlyMemory<byte> payload,
        MqttQualityOfService qos, bool retain, IReadOnlyList<MqttUserProperty>? userProperties, int propsSize, CancellationToken cancellationToken)
    {
        await _capacity.WaitAsync(cancellationToken).ConfigureAwait(false);
        return await Enqueue(topic, topicBytes, payload, qos, retain, userProperties, propsSize).ConfigureAwait(false);
    }

    /// <summary>Queues a message; the caller holds one <see cref="_capacity"/> slot, released in <see cref="Return"/>.</summary>
    private ValueTask<PublishResult> Enqueue(string topic, int topicBytes, ReadOnlyMemory<byte> payload, MqttQualityOfService qos,
        bool retain, IReadOnlyList<MqttUserProperty>? userProperties, int propsSize)
    {
        var m = Rent();
        m.Topic = topic;
        m.TopicBytes = topicBytes;
        m.Payload = payload;
        m.Qos = qos;
        m.Retain = retain;
        m.UserProperties = userProperties;
        m.UserPropertiesSize = propsSize;
        var result = new ValueTask<PublishResult>(m, m.Version);
        Connection? wake;
        lock (_sync)
        {
            if (_disposed)
            {
                m.Complete(new PublishResult(PublishStatus.Disposed));
                wake = null;
            }
            else
            {
                _queue.AddLast(m);
                wake = _connection;
            }
        }

        wake?.Wake();
        return result;
    }

    /// <summary>Subscribes and remembers the filters, re-subscribing after a reconnect that got a new session.</summary>
    public async Task<SubscribeResult> SubscribeAsync(IReadOnlyList<MqttSubscription> subscriptions, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (subscriptions.Count == 0 || subscriptions.Any(s => !MqttText.IsValidTopicFilter(s.TopicFilter, out _) || (byte)s.Qos > 1))
        {
            return new SubscribeResult(SubscribeStatus.InvalidFilter, []);
        }

        lock (_sync)
        {
            foreach (var s in subscriptions)
            {
                _subscriptions.RemoveAll(x => x.TopicFilter == s.TopicFilter);
                _subscriptions.Add(s);
            }
        }

        return await SendSubscribeAsync(subscriptions, cancellationToken).ConfigureAwait(false);
    }

    private async Task<SubscribeResult> SendSubscribeAsync(IReadOnlyList<MqttSubscription> subscriptions, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        Connection? c;
        ushort id;
        lock (_sync)
        {
            c = _connection;
            if (c is not { IsOpen: true } || !_ids.TryAllocate(out id))
            {
                return new SubscribeResult(SubscribeStatus.NotConnected, []);
            }

            _pendingSubscribes[id] = tcs;
        }

        c.EnqueueControl(new ControlPacket(ControlBytes, id, MqttEncoder.EncodeSubscribe(_options.ProtocolVersion, id, subscriptions)));
        try
        {
            var codes = await tcs.Task.WaitAsync(_options.AckTimeout, _time, cancellationToken).ConfigureAwait(false);
            return new SubscribeResult(codes.Length == 0 ? SubscribeStatus.NotConnected : SubscribeStatus.Completed, codes);
        }
        catch (TimeoutException)
        {
            return new SubscribeResult(SubscribeStatus.Timeout, []);
        }
        finally
        {
            lock (_sync)
            {
                if (_pendingSubscribes.Remove(id))
                {
                    _ids.Release(id);
                }
            }
        }
    }

    /// <summary>
    /// One connection attempt: TCP (connect timeout), TLS (handshake timeout), CONNECT, CONNACK (CONNACK timeout).
    /// Expected failures come back as <see cref="ConnectOutcome"/>, not exceptions.
    /// </summary>
    public async Task<MqttConnectResult> ConnectAsync(CancellationToken cancellationToken = default)
    {
        if (_disposed)
        {
            return new MqttConnectResult(ConnectOutcome.Disposed);
        }

        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsConnected)
            {
                return new MqttConnectResult(ConnectOutcome.AlreadyConnected);
            }

            MqttMetrics.ConnectAttempts.Add(1, _clientTag);
            var result = await ConnectCoreAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsConnected)
            {
                Log.Connected(_logger, _options.Host, _options.EffectivePort, _options.ProtocolVersion, result.SessionPresent, Window);
            }
            else
            {
                Log.ConnectFailed(_logger, _options.Host, _options.EffectivePort, result.ToString());
            }

            return result;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private async Task<MqttConnectResult> ConnectCoreAsync(CancellationToken cancellationToken)
    {
        Stream? stream = null;
        var owned = true;
        try
        {
            var (opened, failure) = _options.WebSocket.Enabled
                ? await OpenWebSocketAsync(cancellationToken).ConfigureAwait(false)
                : await OpenTcpAsync(cancellationToken).ConfigureAwait(false);
            if (failure is not null)
            {
                return failure;
            }

            stream = opened!;
            var cleanStart = _options.CleanStart || _forceCleanStart;
            var connect = MqttEncoder.EncodeConnect(BuildConnectFields(cleanStart));
            var reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 65_536, minimumReadSize: 16_384, leaveOpen: true));
            ReceivedPacket connAck;
            using (var cts = Timeout(_options.ConnAckTimeout, cancellationToken))
            {
                try
                {
                    await stream.WriteAsync(connect, cts.Token).ConfigureAwait(false);
                    var (status, packet, error) = await ReadOnePacketAsync(reader, cts.Token).ConfigureAwait(false);
                    if (status == DecodeStatus.Incomplete)
                    {
                        return new MqttConnectResult(ConnectOutcome.ClosedBeforeConnAck,
                            Detail: "the server closed the connection before CONNACK (wrong protocol version or port?)");
                    }

                    if (status == DecodeStatus.Error || packet.Type != MqttPacketType.ConnAck)
                    {
                        return new MqttConnectResult(ConnectOutcome.ProtocolError,
                            Detail: status == DecodeStatus.Error ? $"invalid CONNACK: {error}" : $"expected CONNACK, got {packet.Type}");
                    }

                    connAck = packet;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    return new MqttConnectResult(ConnectOutcome.ConnAckTimeout, Detail: $"no CONNACK within {_options.ConnAckTimeout}");
                }
                catch (IOException e)
                {
                    return new MqttConnectResult(ConnectOutcome.ClosedBeforeConnAck, Detail: e.Message);
                }
            }

            var code = _options.ProtocolVersion == MqttProtocolVersion.V311 ? MqttReasonCodes.FromV311ConnAck(connAck.ReasonCode) : connAck.ReasonCode;
            if (code >= 0x80)
            {
                var why = connAck.Properties?.ReasonString;
                return new MqttConnectResult(ConnectOutcome.Refused, code, Detail: why);
            }

            if (connAck.SessionPresent && !_hasSessionState && _options.ProtocolVersion == MqttProtocolVersion.V500)
            {
                // [MQTT-3.2.2-4]: we cannot resume what we do not have; start clean next time.
                _forceCleanStart = true;
                Log.SessionPresentWithoutState(_logger);
                return new MqttConnectResult(ConnectOutcome.SessionPresentWithoutState, 0, true,
                    "the server has a session this process does not know; reconnecting with Clean Start");
            }

            var connection = new Connection(this, stream, reader, PipeWriter.Create(stream,
                new StreamPipeWriterOptions(minimumBufferSize: 65_536, leaveOpen: true)), _time.GetTimestamp());
            Activate(connection, connAck, cleanStart);
            owned = false; // the connection owns the stream now
            return new MqttConnectResult(ConnectOutcome.Connected, code, connAck.SessionPresent);
        }
        catch (OperationCanceledException)
        {
            throw;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            return new MqttConnectResult(ConnectOutcome.ClosedBeforeConnAck, Detail: e.Message);
        }
        finally
        {
            if (owned && stream is not null)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>TCP (connect timeout), then TLS when enabled (handshake timeout): the byte stream MQTT runs on.</summary>
    private async Task<(Stream? Stream, MqttConnectResult? Failure)> OpenTcpAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var cts = Timeout(_options.ConnectTimeout, cancellationToken))
            {
                try
                {
                    await socket.ConnectAsync(_options.Host, _options.EffectivePort, cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    socket.Dispose();
                    return (null, new MqttConnectResult(ConnectOutcome.TcpConnectTimeout, Detail: $"no TCP connection within {_options.ConnectTimeout}"));
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    return (null, new MqttConnectResult(ConnectOutcome.TcpConnectFailed, Detail: $"{e.SocketErrorCode}: {e.Message}"));
                }
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        Stream stream = new NetworkStream(socket, ownsSocket: true);
        return _options.Tls.Enabled ? await AuthenticateTlsAsync(stream, cancellationToken).ConfigureAwait(false) : (stream, null);
    }

    internal ConnectFields BuildConnectFields(bool cleanStart) => new()
    {
        Version = _options.ProtocolVersion,
        ClientId = _options.ClientId,
        CleanStart = cleanStart,
        KeepAliveSeconds = (ushort)_options.KeepAlive.TotalSeconds,
        SessionExpirySeconds = (uint)_options.SessionExpiry.TotalSeconds,
        ReceiveMaximum = _options.ReceiveMaximum == 65_535 ? (ushort)0 : (ushort)_options.ReceiveMaximum,
        MaximumPacketSize = (uint)_options.MaximumPacketSize,
        WillTopic = _options.Will?.Topic,
        WillPayload = _options.Will is { } w ? Encoding.UTF8.GetBytes(w.Payload) : default,
        WillQos = _options.Will?.Qos ?? MqttQualityOfService.AtMostOnce,
        WillRetain = _options.Will?.Retain ?? false,
        UserName = _options.UserName,
        Password = _options.Password is { } p ? new ReadOnlyMemory<byte>(Encoding.UTF8.GetBytes(p)) : (ReadOnlyMemory<byte>?)null,
    };

    /// <summary>Where a certificate validation callback leaves why it refused (for a clear connect failure).</summary>
    private sealed class ValidationProblem
    {
        public string? Text { get; set; }
    }

    /// <summary>
    /// The TLS client settings of <see cref="MqttClientOptions.Tls"/> (CA file or system store, host name check, client
    /// certificate, TLS 1.2/1.3), shared by mqtts:// (SslStream) and mqtt+wss:// (the WebSocket's HTTPS handler).
    /// </summary>
    private SslClientAuthenticationOptions TlsClientOptions(ValidationProblem problem)
    {
        var tls = _options.Tls;
        X509Certificate2Collection? trust = null;
        if (!string.IsNullOrEmpty(tls.CaFile))
        {
            trust = [];
            trust.ImportFromPemFile(tls.CaFile);
        }

        var auth = new SslClientAuthenticationOptions
        {
            TargetHost = tls.TargetHost ?? _options.Host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
            {
                if (certificate is null)
                {
                    problem.Text = "the server sent no certificate";
                    return false;
                }

                if ((errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
                {
                    problem.Text = $"the server certificate does not match the host name '{tls.TargetHost ?? _options.Host}'";
                    return false;
                }

                if (trust is null)
                {
                    problem.Text = errors == SslPolicyErrors.None ? null : $"certificate validation failed: {errors}";
                    return errors == SslPolicyErrors.None;
                }

                using var custom = new X509Chain();
                custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                custom.ChainPolicy.CustomTrustStore.AddRange(trust);
                custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                if (custom.Build(new X509Certificate2(certificate)))
                {
                    return true;
                }

                problem.Text = "the server certificate does not chain to the configured CA (Tls:CaFile): "
                    + string.Join(", ", custom.ChainStatus.Select(s => s.Status.ToString()));
                return false;
            },
        };
        if (tls.ClientCertificateFile is { } certFile && tls.ClientKeyFile is { } keyFile)
        {
            var pem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
            // Export/re-import so the private key is usable by SslStream on every platform.
            auth.ClientCertificates = [X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null)];
        }

        return auth;
    }

    private async Task<(Stream? Stream, MqttConnectResult? Failure)> AuthenticateTlsAsync(Stream inner, CancellationToken cancellationToken)
    {
        var problem = new ValidationProblem();
        var auth = TlsClientOptions(problem);
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        using var cts = Timeout(_options.TlsHandshakeTimeout, cancellationToken);
        try
        {
            await ssl.AuthenticateAsClientAsync(auth, cts.Token).ConfigureAwait(false);
            return (ssl, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            return (null, new MqttConnectResult(ConnectOutcome.TlsHandshakeTimeout, Detail: $"no TLS handshake within {_options.TlsHandshakeTimeout}"));
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            return (null, new MqttConnectResult(ConnectOutcome.TlsHandshakeFailed, Detail: problem.Text ?? e.Message));
        }
    }

    private async Task<(DecodeStatus, ReceivedPacket, DecodeError)> ReadOnePacketAsync(PipeReader reader, CancellationToken ct)
    {
        while (true)
        {
            var read = await reader.ReadAsync(ct).ConfigureAwait(false);
            var buffer = read.Buffer;
            var status = MqttDecoder.TryDecode(ref buffer, _options.ProtocolVersion, _options.MaximumPacketSize, out var packet, out var error);
            if (status == DecodeStatus.Complete)
            {
                reader.AdvanceTo(buffer.Start);
                return (status, packet, error);
            }

            if (status == DecodeStatus.Error)
            {
                return (status, packet, error);
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
            if (read.IsCompleted)
            {
                return (DecodeStatus.Incomplete, default, DecodeError.None);
            }
        }
    }

    private void Activate(Connection connection, in ReceivedPacket connAck, bool cleanStart)
    {
        var props = connAck.Properties;
        var serverReceiveMax = props?.ReceiveMaximum ?? 65_535;
        var resumed = connAck.SessionPresent && !cleanStart;
        List<MqttSubscription>? resubscribe = null;
        lock (_sync)
        {
            _window = Math.Min(_options.MaxInflight, serverReceiveMax);
            _serverMaxPacket = props?.MaximumPacketSize ?? 0;
            _retainAvailable = props?.RetainAvailable ?? true;
            _serverMaxQos = props?.MaximumQoS ?? 2;
            for (var m = _queue.First; m is not null; m = m.Next)
            {
                if (m.PacketId == 0)
                {
                    continue;
                }

                if (resumed)
                {
                    m.Dup = true; // [MQTT-3.3.1-1]: same id, DUP=1, original order, before anything new
                }
                else
                {
                    // A new session: old ids mean nothing; republish as first attempts with fresh ids.
                    _ids.Release(m.PacketId);
                    m.PacketId = 0;
                    m.Dup = false;
                }
            }

            _hasSessionState = !_options.CleanStart && (_options.ProtocolVersion == MqttProtocolVersion.V311 || _options.SessionExpiry > TimeSpan.Zero);
            _forceCleanStart = false;
            if (!connAck.SessionPresent && _subscriptions.Count > 0)
            {
                resubscribe = [.. _subscriptions];
            }

            connection.KeepAlive = props?.ServerKeepAlive is { } ska ? TimeSpan.FromSeconds(ska) : _options.KeepAlive;
            Volatile.Write(ref _lastClosed, connection.Closed.Task!);
            Volatile.Write(ref _connection, connection);
        }

        MqttMetrics.Connections.Add(1, _clientTag);
        MqttMetrics.Connected.Add(1, _clientTag);
        connection.Start();
        RaiseStateChanged(new MqttConnectionStateChange(MqttConnectionState.Connected, connAck.SessionPresent, null));
        if (resubscribe is not null)
        {
            _ = ResubscribeAsync(resubscribe);
        }
    }

    private async Task ResubscribeAsync(List<MqttSubscription> subscriptions)
    {
        try
        {
            var result = await SendSubscribeAsync(subscriptions, CancellationToken.None).ConfigureAwait(false);
            Log.Resubscribed(_logger, subscriptions.Count, result.Status);
        }
        catch (Exception e)
        {
            Log.LoopFailed(_logger, "resubscribe", e);
        }
    }

    /// <summary>Sends DISCONNECT (0x00: the broker discards the will) and closes. The client can connect again.</summary>
    public async Task DisconnectAsync(byte reasonCode = 0, CancellationToken cancellationToken = default)
    {
        var c = Volatile.Read(ref _connection);
        if (c is null || !c.IsOpen)
        {
            return;
        }

        c.EnqueueControl(new ControlPacket(ControlDisconnect, reasonCode, null));
        try
        {
            await c.Closed.Task.WaitAsync(_options.DisconnectTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            c.Fail(DisconnectKind.Local, reasonCode, "DISCONNECT not flushed in time");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            await DisconnectAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.LoopFailed(_logger, "dispose", e);
        }

        List<OutgoingMessage> orphans = [];
        lock (_sync)
        {
            _disposed = true;
            Volatile.Read(ref _connection)?.Fail(DisconnectKind.Local, 0, "disposed");
            foreach (var list in new[] { _inflight, _queue })
            {
                while (list.First is { } m)
                {
                    list.Remove(m);
                    orphans.Add(m);
                }
            }
        }

        foreach (var m in orphans)
        {
            m.Complete(new PublishResult(PublishStatus.Disposed));
        }
    }

    internal void Return(OutgoingMessage m)
    {
        _capacity.Release();
        if (_pool.Count < _options.MaxPending)
        {
            _pool.Enqueue(m);
        }
    }

    private OutgoingMessage Rent()
    {
        if (!_pool.TryDequeue(out var m))
        {
            m = new OutgoingMessage();
        }

        m.Init(this);
        return m;
    }

    private string? Validate(string topic, ReadOnlyMemory<byte> payload, MqttQualityOfService qos, IReadOnlyList<MqttUserProperty>? userProperties,
        out int topicBytes, out int propsSize)
    {
        propsSize = 0;
        if (!MqttText.IsValidTopicName(topic, out topicBytes))
        {
            return "the topic must be 1..65535 bytes of valid UTF-8 without '+', '#' or U+0000";
        }

        if ((byte)qos > 1)
        {
            return "only QoS 0 and 1 are supported";
        }

        if (userProperties is not null && _options.ProtocolVersion == MqttProtocolVersion.V500)
        {
            foreach (var p in userProperties)
            {
                if (!MqttText.TryGetByteCount(p.Name ?? "", out _) || !MqttText.TryGetByteCount(p.Value ?? "", out _))
                {
                    return "a user property is not valid UTF-8 or longer than 65535 bytes";
                }
            }

            propsSize = MqttEncoder.UserPropertiesSize(userProperties);
        }

        if (MqttEncoder.PublishSize(_options.ProtocolVersion, topicBytes, payload.Length, qos, propsSize) > VariableByteInteger.MaxValue + 5L)
        {
            return "the packet exceeds the MQTT maximum of 268435455 bytes";
        }

        return null;
    }

    private PublishResult DeadLetter(string topic, ReadOnlyMemory<byte> payload, DeadLetterReason reason, byte code, string detail)
    {
        MqttMetrics.DeadLettered.Add(1, _clientTag, new KeyValuePair<string, object?>("reason", reason.ToString()));
        Log.DeadLettered(_logger, topic, reason, code, detail);
        try
        {
            DeadLettered?.Invoke(new MqttDeadLetter(topic, payload, reason, code, detail));
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, "DeadLettered", e);
        }

        return new PublishResult(PublishStatus.DeadLettered, code, reason, detail);
    }

    private void RaiseStateChanged(MqttConnectionStateChange change)
    {
        try
        {
            StateChanged?.Invoke(change);
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, "StateChanged", e);
        }
    }

    private TimeoutScope Timeout(TimeSpan timeout, CancellationToken linked) => new(timeout, _time, linked);

    /// <summary>A token cancelled by the caller's token or after a timeout measured on the injected clock.</summary>
    private sealed class TimeoutScope : IDisposable
    {
        private readonly CancellationTokenSource _timer;
        private readonly CancellationTokenSource _linked;

        public TimeoutScope(TimeSpan timeout, TimeProvider time, CancellationToken outer)
        {
            _timer = new CancellationTokenSource(timeout, time);
            _linked = CancellationTokenSource.CreateLinkedTokenSource(outer, _timer.Token);
        }

        public CancellationToken Token => _linked.Token;

        public void Dispose()
        {
            _linked.Dispose();
            _timer.Dispose();
        }
    }

    private readonly record struct ControlPacket(byte Kind, ushort Id, byte[]? Bytes);
}
