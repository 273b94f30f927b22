using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Mqtt;

/// <summary>What the supervisor decided after a failed attempt or a lost connection.</summary>
public sealed record MqttRetry(int Attempt, RetryClass RetryClass, TimeSpan Delay, string Why);

/// <summary>
/// Keeps an <see cref="MqttClient"/> connected: connect, wait for the connection to end, back off (capped exponential
/// with jitter; long after a refused login or a takeover), repeat. Messages published meanwhile wait in the client.
/// </summary>
public sealed class MqttConnection : IAsyncDisposable
{
    private readonly MqttClient _client;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ReconnectBackoff _backoff;
    private readonly CancellationTokenSource _stop = new();
    private readonly Queue<long> _serverCloses = new();
    private Task? _loop;
    private volatile bool _suspectedTakeover;

    public MqttConnection(MqttClient client, ILogger<MqttConnection>? logger = null, TimeProvider? time = null, Random? random = null)
    {
        _client = client;
        _time = time ?? TimeProvider.System;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _backoff = new ReconnectBackoff(client.Options.Backoff, random);
    }

    public MqttClient Client => _client;

    /// <summary>Raised before every wait between attempts (for health reporting and tests).</summary>
    public event Action<MqttRetry>? RetryScheduled;

    public int ConnectAttempts { get; private set; }

    /// <summary>
    /// True while the server keeps closing our connections without a DISCONNECT (see
    /// <see cref="MqttBackoffOptions.SuspectTakeoverCloses"/>): another client with the same client id is probably
    /// connected. For health reporting: "client id in use".
    /// </summary>
    public bool SuspectedTakeover => _suspectedTakeover;

    /// <summary>Optional hook called on every loop turn (a <c>LoopHeartbeat.Beat</c> in the gateway).</summary>
    public Action? Heartbeat { get; set; }

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                Heartbeat?.Invoke();
                ConnectAttempts++;
                var result = await _client.ConnectAsync(ct).ConfigureAwait(false);
                RetryClass retryClass;
                string why;
                if (result.IsConnected || result.Outcome == ConnectOutcome.AlreadyConnected)
                {
                    var info = await WaitWhileConnectedAsync(ct).ConfigureAwait(false);
                    if (info is null || info.Kind == DisconnectKind.Local)
                    {
                        if (ct.IsCancellationRequested)
                        {
                            return;
                        }
                    }

                    var suspected = info is not null && TrackServerClose(info);
                    if (info is not null && info.ConnectedFor >= _client.Options.Backoff.StableAfter && !suspected)
                    {
                        _backoff.Reset();
                    }

                    retryClass = info is null ? RetryClass.Normal : ReconnectBackoff.Classify(info);
                    if (suspected && retryClass == RetryClass.Normal)
                    {
                        retryClass = RetryClass.Takeover;
                    }
                    why = info?.ToString() ?? "connection ended";
                }
                else if (result.Outcome == ConnectOutcome.Disposed)
                {
                    return;
                }
                else
                {
                    retryClass = ReconnectBackoff.Classify(result);
                    why = result.ToString();
                }

                var delay = _backoff.Next(retryClass);
                var ms = (long)delay.TotalMilliseconds;
                switch (retryClass)
                {
                    case RetryClass.Refused:
                        Log.Refused(_logger, why, ms);
                        break;
                    case RetryClass.Takeover when _suspectedTakeover:
                        // Said once when the suspicion started (event 6104); each attempt is only informational.
                        Log.RetryScheduled(_logger, ms, _backoff.Attempt, retryClass, why);
                        break;
                    case RetryClass.Takeover:
                        Log.TakenOver(_logger, ms);
                        break;
                    default:
                        Log.RetryScheduled(_logger, ms, _backoff.Attempt, retryClass, why);
                        break;
                }

                RetryScheduled?.Invoke(new MqttRetry(_backoff.Attempt, retryClass, delay, why));
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, ct).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                Log.SupervisorFailed(_logger, e);
                await Task.Delay(_client.Options.Backoff.InitialDelay, _time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Mosquitto 2.0.11 closes a taken-over v5 connection without DISCONNECT 0x8E (reference B10), so a twin instance
    /// shows up only as the server closing our connections again and again. Returns true while that is suspected.
    /// </summary>
    private bool TrackServerClose(MqttDisconnectInfo info)
    {
        var b = _client.Options.Backoff;
        if (b.SuspectTakeoverCloses == 0)
        {
            return false;
        }

        if (info.ConnectedFor >= b.SuspectTakeoverWindow || info.Kind != DisconnectKind.ConnectionLost)
        {
            // A long-lived connection, or one that ended for another reason (timeouts, our own DISCONNECT, a
            // server DISCONNECT that says why): no evidence of a twin.
            _serverCloses.Clear();
            if (_suspectedTakeover && info.ConnectedFor >= b.SuspectTakeoverWindow)
            {
                _suspectedTakeover = false;
                Log.TakeoverSuspicionCleared(_logger, info.ConnectedFor.TotalSeconds);
            }

            return _suspectedTakeover;
        }

        if (info.RepeatedDropAfterSend)
        {
            return _suspectedTakeover; // the poison guard's business, not a twin's
        }

        var now = _time.GetTimestamp();
        _serverCloses.Enqueue(now);
        while (_serverCloses.Count > 0 && _time.GetElapsedTime(_serverCloses.Peek(), now) > b.SuspectTakeoverWindow)
        {
            _serverCloses.Dequeue();
        }

        if (!_suspectedTakeover && _serverCloses.Count >= b.SuspectTakeoverCloses)
        {
            _suspectedTakeover = true;
            Log.SuspectedTakeover(_logger, _client.Options.ClientId, _serverCloses.Count, b.SuspectTakeoverWindow.TotalSeconds,
                (long)b.TakeoverDelay.TotalMilliseconds);
        }

        return _suspectedTakeover;
    }

    private async Task<MqttDisconnectInfo?> WaitWhileConnectedAsync(CancellationToken ct)
    {
        // Beat while connected so a watchdog sees this loop alive during a long, healthy connection.
        var closed = _client.WaitForDisconnectAsync();
        while (!closed.IsCompleted)
        {
            Heartbeat?.Invoke();
            try
            {
                return await closed.WaitAsync(TimeSpan.FromSeconds(5), _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        return await closed.ConfigureAwait(false);
    }

    /// <summary>Stops reconnecting and disconnects gracefully.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
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

        await _client.DisconnectAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
