using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Compression;
using System.Text;
using EdgeGateway.Buffer;
using EdgeGateway.Buffer.Upstream;
using EdgeGateway.Mqtt;
using EdgeGateway.Records;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Upstream.Mqtt;

/// <summary>
/// Publishes buffered records QoS 1 over <see cref="MqttClient"/>: one topic per stream from the template, the
/// record id and sequence in the JSON payload and as v5 user properties, acknowledgements on PUBACK, a retained
/// <c>online</c>/<c>offline</c> status with the will. The client keeps unacknowledged messages across a reconnect and
/// republishes them first, in order; the forwarder's resend after <see cref="ISinkAcknowledger.ConnectionLost"/> skips
/// records the client still holds, so a link drop does not double the duplicates.
/// </summary>
public sealed class MqttSink : IUpstreamSink, IUpstreamLinkState, IAsyncDisposable
{
    public const string Online = "online";
    public const string Offline = "offline";

    private readonly MqttSinkOptions _options;
    private readonly string _gatewayId;
    private readonly ILogger _logger;
    private readonly UpstreamMetrics _metrics;
    private readonly MqttClient _client;
    private readonly MqttConnection _connection;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly ConcurrentDictionary<long, DateTimeOffset> _held = new();
    private readonly string? _statusTopic;
    private readonly string _topicPrefix;
    private readonly DeadLetterStore? _deadLetters;
    // Groups already dead-lettered (stream + sequence), kept until the forwarder's cursor has passed them: a rewind after a
    // connection-level drop (poison guard, DISCONNECT 0x95) throws our ack away and resends the record; it must then be
    // acknowledged at once, not published (and dropped) again forever with a new dead-letter row each time.
    private readonly ConcurrentDictionary<(string Stream, long Sequence), byte> _deadLetteredKeys = new();
    private const int MaxRememberedDeadLetters = 100_000;
    private readonly ConcurrentDictionary<(string Stream, RecordKind Kind), StreamHeader> _headers = new();
    private const int MaxCachedHeaders = 4096;
    private string? _refusal;
    private ISinkAcknowledger? _acks;
    private long _connects;
    private long _acked;
    private long _deadLettered;
    private string? _lastError = "not connected yet";
    private int _stopped;
    private int _qosLogged;
    private int _disposed;

    public MqttSink(MqttSinkOptions options, string gatewayId, TimeProvider time, ILoggerFactory loggers, UpstreamMetrics metrics,
        Random? random = null, DeadLetterStore? deadLetters = null)
    {
        _deadLetters = deadLetters;
        _options = options;
        _gatewayId = gatewayId;
        _logger = loggers.CreateLogger<MqttSink>();
        _metrics = metrics;
        _tag = new("sink", options.Name);
        _statusTopic = string.IsNullOrEmpty(options.StatusTopic) ? null : Render(options.StatusTopic, "", "");
        _topicPrefix = options.TopicTemplate.Replace("{gateway_id}", gatewayId, StringComparison.Ordinal);
        var clientOptions = new MqttClientOptions
        {
            Host = options.Host,
            Port = options.Port,
            ClientId = string.IsNullOrEmpty(options.ClientId) ? "edgegw-" + gatewayId : options.ClientId,
            ProtocolVersion = options.ProtocolVersion,
            // The durable buffer is the session: a clean start plus republishing what was not acknowledged (reference rule 10).
            CleanStart = true,
            KeepAlive = options.KeepAlive,
            PingTimeout = options.PingTimeout,
            ConnectTimeout = options.ConnectTimeout,
            TlsHandshakeTimeout = options.ConnectTimeout,
            ConnAckTimeout = options.ConnectTimeout,
            AckTimeout = options.AckTimeout,
            MaxInflight = options.MaxInflight,
            MaximumOutgoingPacketSize = options.MaximumOutgoingPacketSize,
            PoisonDropLimit = options.PoisonDropLimit,
            MaxPending = Math.Max(options.MaxInflight, 100_000),
            UserName = options.UserName,
            Password = options.Password,
            Tls = options.Tls,
            WebSocket = options.WebSocket,
            Backoff = options.Backoff,
            Will = _statusTopic is null ? null : new MqttWill { Topic = _statusTopic, Payload = Offline, Retain = true, Qos = MqttQualityOfService.AtLeastOnce },
        };
        _client = new MqttClient(clientOptions, loggers.CreateLogger<MqttClient>(), time);
        _connection = new MqttConnection(_client, loggers.CreateLogger<MqttConnection>(), time, random);
        _client.StateChanged += OnStateChanged;
        // A failed attempt (refused login, certificate not trusted, no route) changes no client state, so take its
        // reason from the supervisor: health must say why we are not connected, not "not connected yet".
        _connection.RetryScheduled += r => Volatile.Write(ref _lastError, UpstreamUrl.RedactUrlsIn(r.Why));
        metrics.Register(this);
    }

    public string Name => _options.Name;

    public string Transport => "mqtt";

    public bool IsConnected => _client.IsConnected;

    public int Inflight => _held.Count;

    public DateTimeOffset? OldestUnacknowledged => _held.IsEmpty ? null : _held.Values.Min();

    public long Reconnects => Math.Max(0, Interlocked.Read(ref _connects) - 1);

    public long Connects => Interlocked.Read(ref _connects);

    public long Acknowledged => Interlocked.Read(ref _acked);

    /// <summary>Records dead-lettered since start (refused for good by the broker or too large for it).</summary>
    public long DeadLettered => Interlocked.Read(ref _deadLettered);

    /// <summary>Rows of this sink in the dead-letter table (0 without a table).</summary>
    public long DeadLetterRows => _deadLetters?.CountFor(Name) ?? 0;

    /// <summary>The dead-letter table, when one was given.</summary>
    public DeadLetterStore? DeadLetters => _deadLetters;

    public string? LastError => _connection.SuspectedTakeover
        ? "client id in use: another client with the same client id is probably connected; retrying slowly"
        : Volatile.Read(ref _lastError);

    /// <summary>
    /// Why the link is up but not carrying records (the broker allows only QoS 0), or null. Records stay in the buffer.
    /// </summary>
    public string? Refusal => _client.IsConnected && _client.ServerMaximumQos < 1 ? Volatile.Read(ref _refusal) ?? QosRefusal : null;

    private const string QosRefusal = "broker allows only QoS 0 (CONNACK Maximum QoS 0); records wait in the buffer until it allows QoS 1";

    /// <summary>The status topic after substitution, or null when disabled.</summary>
    public string? StatusTopic => _statusTopic;

    public MqttClient Client => _client;

    /// <summary>Starts connecting (idempotent); the supervisor reconnects with backoff.</summary>
    public void Start() => _connection.Start();

    public string TopicFor(string stream, string kind) => _topicPrefix.Replace("{stream}", stream, StringComparison.Ordinal)
        .Replace("{kind}", kind, StringComparison.Ordinal);

    public ValueTask<SinkSendResult> SendAsync(IReadOnlyList<BufferedRecord> batch, ISinkAcknowledger acks, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _acks, acks);
        if (!_client.IsConnected)
        {
            return ValueTask.FromResult(SinkSendResult.Disconnected);
        }

        if (_client.ServerMaximumQos < 1)
        {
            // A link-level refusal, not a record's fault: dead-lettering would empty the buffer into a bounded table.
            Volatile.Write(ref _refusal, QosRefusal);
            if (Interlocked.Exchange(ref _qosLogged, 1) == 0)
            {
                UpstreamLog.MqttQosRefused(_logger, Name);
            }

            return ValueTask.FromResult(SinkSendResult.Failed);
        }

        Volatile.Write(ref _refusal, null);
        Volatile.Write(ref _qosLogged, 0);
        ForgetPassedDeadLetters(acks);
        IReadOnlyList<BufferedRecord> fresh = batch;
        if (!_deadLetteredKeys.IsEmpty)
        {
            var kept = new List<BufferedRecord>(batch.Count);
            foreach (var r in batch)
            {
                if (_deadLetteredKeys.ContainsKey((r.Stream, r.Sequence)))
                {
                    acks.Acknowledge(r.Sequence); // resent after a rewind: already in the dead-letter table
                }
                else
                {
                    kept.Add(r);
                }
            }

            fresh = kept;
        }

        SendGroups(fresh, cancellationToken);
        _metrics.Sent.Add(batch.Count, _tag);
        return ValueTask.FromResult(SinkSendResult.Sent);
    }

    private void ForgetPassedDeadLetters(ISinkAcknowledger acks)
    {
        if (_deadLetteredKeys.IsEmpty)
        {
            return;
        }

        // The cursor is durable: what lies at or below it will never be resent.
        if (acks is UpstreamForwarder forwarder)
        {
            var cursor = forwarder.Cursor;
            foreach (var key in _deadLetteredKeys.Keys)
            {
                if (key.Sequence <= cursor)
                {
                    _deadLetteredKeys.TryRemove(key, out _);
                }
            }
        }

        if (_deadLetteredKeys.Count > MaxRememberedDeadLetters)
        {
            // Safety bound for an acknowledger without a cursor: forget the oldest half.
            foreach (var key in _deadLetteredKeys.Keys.OrderBy(k => k.Sequence).Take(_deadLetteredKeys.Count / 2).ToList())
            {
                _deadLetteredKeys.TryRemove(key, out _);
            }
        }
    }

    private void SendGroups(IReadOnlyList<BufferedRecord> batch, CancellationToken cancellationToken)
    {
        var i = 0;
        while (i < batch.Count)
        {
            // A message holds consecutive records of one stream, at most BatchRecords of them (1 = no batching).
            var j = i + 1;
            while (j < batch.Count && j - i < _options.BatchRecords && batch[j].Stream == batch[i].Stream)
            {
                j++;
            }

            var group = new BufferedRecord[j - i];
            for (var k = i; k < j; k++)
            {
                group[k - i] = batch[k];
            }

            i = j;
            if (AllHeld(group))
            {
                continue; // still held by the client from before the reconnect: its PUBACK will acknowledge it
            }

            foreach (var r in group)
            {
                _held[r.Sequence] = r.WallClock;
            }

            Publish(group, cancellationToken);
        }
    }

    private bool AllHeld(BufferedRecord[] group)
    {
        foreach (var r in group)
        {
            if (!_held.ContainsKey(r.Sequence))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Topic and the constant user properties of one stream and kind, built once (a drain repeats them per record).</summary>
    private sealed record StreamHeader(string Topic, MqttUserProperty Stream, MqttUserProperty Kind);

    private StreamHeader HeaderFor(string stream, RecordKind recordKind)
    {
        if (_headers.TryGetValue((stream, recordKind), out var header))
        {
            return header;
        }

        if (_headers.Count >= MaxCachedHeaders)
        {
            _headers.Clear(); // bounded: streams come from configuration, this only guards against a runaway name set
        }

        var kind = RecordJson.KindName(recordKind);
        header = new StreamHeader(TopicFor(stream, kind), new("stream", stream), new("kind", kind));
        _headers[(stream, recordKind)] = header;
        return header;
    }

    private void Publish(BufferedRecord[] group, CancellationToken ct)
    {
        var first = group[0];
        var header = HeaderFor(first.Stream, first.Kind);
        var topic = header.Topic;
        var payload = group.Length == 1 && _options.BatchRecords == 1
            ? RecordJson.Serialize(_gatewayId, first)
            : RecordJson.SerializeBatch(_gatewayId, group);
        var compressed = false;
        if (_options.Compression == PayloadCompression.Gzip && payload.Length >= _options.CompressionMinBytes)
        {
            payload = Gzip(payload);
            compressed = true;
        }

        List<MqttUserProperty>? props = null;
        if (_options.ProtocolVersion == MqttProtocolVersion.V500)
        {
            props =
            [
                new("record_id", RecordJson.RecordId(_gatewayId, first.Sequence)),
                new("seq", first.Sequence.ToString(CultureInfo.InvariantCulture)),
                header.Stream,
                header.Kind,
            ];
            if (group.Length > 1 || _options.BatchRecords > 1)
            {
                props.Add(new("seq_last", group[^1].Sequence.ToString(CultureInfo.InvariantCulture)));
                props.Add(new("count", group.Length.ToString(CultureInfo.InvariantCulture)));
            }

            if (compressed)
            {
                props.Add(new("content-encoding", "gzip"));
            }
        }

        ValueTask<PublishResult> publish;
        try
        {
            // Queued synchronously inside PublishAsync, so messages keep the order of this loop.
            publish = _client.PublishAsync(topic, payload, MqttQualityOfService.AtLeastOnce, false, props, ct);
        }
        catch (ObjectDisposedException)
        {
            Release(group);
            return;
        }

        _ = TrackAsync(publish, group, topic);
    }

    private async Task TrackAsync(ValueTask<PublishResult> publish, BufferedRecord[] group, string topic)
    {
        PublishResult result;
        try
        {
            result = await publish.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            Release(group);
            return;
        }

        // _held is released only after the ack (and the dead-letter write): a rewind in between must see the group as
        // held (its ack follows) rather than publish it again and store a second dead-letter row.
        var acks = Volatile.Read(ref _acks);
        if (result is { Status: PublishStatus.DeadLettered, DeadLetterReason: DeadLetterReason.NotSupportedByServer }
            && (_client.ServerMaximumQos < 1 || result.Detail?.Contains("Maximum QoS", StringComparison.Ordinal) == true))
        {
            // The broker allows only QoS 0: every record would be refused, so keep them all in the buffer instead.
            Volatile.Write(ref _refusal, QosRefusal);
            Release(group);
            if (Interlocked.Exchange(ref _qosLogged, 1) == 0)
            {
                UpstreamLog.MqttQosRefused(_logger, Name);
            }

            acks?.ConnectionLost(QosRefusal);
            return;
        }

        switch (result.Status)
        {
            case PublishStatus.Acknowledged:
                Interlocked.Add(ref _acked, group.Length);
                _metrics.Acked.Add(group.Length, _tag);
                break;
            case PublishStatus.DeadLettered:
                // Poison (too large for the broker, refused by it): never retried, so it must not hold the cursor; the
                // buffer will evict it, so the payload is kept in the dead-letter table first. If that write fails the
                // records stay unacknowledged (the forwarder resends them later) rather than being lost.
                if (_deadLetters is not null)
                {
                    try
                    {
                        // Off the client's completion path: a SQLite write must not stall the MQTT read loop.
                        await Task.Run(() => _deadLetters.Add(Name, group, topic, result.DeadLetterReason?.ToString() ?? "Unknown",
                            result.ReasonCode, result.Detail ?? "")).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is SqliteException or IOException or ObjectDisposedException or InvalidOperationException)
                    {
                        UpstreamLog.DeadLetterStoreFailed(_logger, Name, group[0].Sequence, group[^1].Sequence, e);
                        Release(group);
                        return;
                    }
                }

                foreach (var r in group)
                {
                    _deadLetteredKeys[(r.Stream, r.Sequence)] = 0;
                }

                Interlocked.Add(ref _deadLettered, group.Length);
                _metrics.DeadLettered.Add(group.Length, _tag);
                UpstreamLog.MqttDeadLettered(_logger, Name, group[0].Sequence, group[^1].Sequence, group[0].Stream,
                    $"{result.DeadLetterReason} 0x{result.ReasonCode:X2} {result.Detail}");
                break;
            default:
                Release(group);
                return; // disposed: the forwarder resends from its cursor next time
        }

        foreach (var r in group)
        {
            acks?.Acknowledge(r.Sequence);
        }

        Release(group);
    }

    private void Release(BufferedRecord[] group)
    {
        foreach (var r in group)
        {
            _held.TryRemove(r.Sequence, out _);
        }
    }

    private void OnStateChanged(MqttConnectionStateChange change)
    {
        if (change.State == MqttConnectionState.Connected)
        {
            Interlocked.Increment(ref _connects);
            if (Connects > 1)
            {
                _metrics.Reconnects.Add(1, _tag);
            }

            Volatile.Write(ref _lastError, null);
            UpstreamLog.MqttConnected(_logger, Name, change.SessionPresent);
            if (_statusTopic is not null && Volatile.Read(ref _stopped) == 0)
            {
                _ = PublishStatusAsync(Online);
            }

            return;
        }

        var why = change.Disconnect?.ToString() ?? "disconnected";
        Volatile.Write(ref _lastError, UpstreamUrl.RedactUrlsIn(why));
        if (Volatile.Read(ref _stopped) != 0)
        {
            return;
        }

        UpstreamLog.MqttDisconnected(_logger, Name, why);
        Volatile.Read(ref _acks)?.ConnectionLost(why);
    }

    private async Task PublishStatusAsync(string status)
    {
        try
        {
            var result = await _client.PublishAsync(_statusTopic!, Encoding.UTF8.GetBytes(status), MqttQualityOfService.AtLeastOnce, retain: true)
                .AsTask().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                UpstreamLog.MqttStatusFailed(_logger, Name, status, result.Status.ToString());
            }
        }
        catch (Exception e) when (e is TimeoutException or ObjectDisposedException or OperationCanceledException)
        {
            UpstreamLog.MqttStatusFailed(_logger, Name, status, e.Message);
        }
    }

    private string Render(string template, string stream, string kind) => template
        .Replace("{gateway_id}", _gatewayId, StringComparison.Ordinal)
        .Replace("{stream}", stream, StringComparison.Ordinal)
        .Replace("{kind}", kind, StringComparison.Ordinal);

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream(data.Length / 2 + 32);
        using (var gz = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>Publishes the retained <c>offline</c> status (a clean stop does not fire the will), then disconnects.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
        {
            return;
        }

        if (_statusTopic is not null && _client.IsConnected)
        {
            await PublishStatusAsync(Offline).ConfigureAwait(false);
        }

        await _connection.StopAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        // DI may dispose one instance once per registration (MqttSink, IUpstreamSink, IUpstreamLinkState).
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        await _client.DisposeAsync().ConfigureAwait(false);
        _metrics.Unregister(this);
    }
}
