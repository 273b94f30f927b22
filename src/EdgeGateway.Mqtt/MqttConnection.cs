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
    /// True while the server keeps closing our connections cleanly, without a DISCONNECT (see
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
                    var connectedAt = _time.GetTimestamp();
                    var info = await WaitWhileConnectedAsync(connectedAt, ct).ConfigureAwait(false);
                    if (info is null || info.Kind == DisconnectKind.Local)
                    {
                        if (ct.IsCancellationRequested)
                        {
                            return;
                        }
                    }

                    var suspected = info is not null && TrackServerClose(info, _time.GetElapsedTime(connectedAt));
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
                    if (retryClass == RetryClass.Normal)
                    {
                        // A connect attempt that failed on the network (TCP refused/timeout, EOF before CONNACK...):
                        // a twin never causes that (the broker accepts us and closes the other one), a flaky link does.
                        ClearSuspicion($"a connect attempt failed on the network ({why})");
                    }
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
    /// shows up only as the server closing our connections again and again. Counts only clean ends of stream from the
    /// server (<see cref="MqttDisconnectInfo.ServerClosed"/>); a connection that stayed up
    /// <see cref="MqttBackoffOptions.StableAfter"/> or that ended any other way (a timeout, a reset or local network
    /// error, a server DISCONNECT, our own DISCONNECT) clears the count and the suspicion. Returns true while suspected.
    /// </summary>
    private bool TrackServerClose(MqttDisconnectInfo info, TimeSpan upFor)
    {
        var b = _client.Options.Backoff;
        if (b.SuspectTakeoverCloses == 0)
        {
            return false;
        }

        if (info.RepeatedDropAfterSend)
        {
            return _suspectedTakeover; // the poison guard's business, not a twin's
        }

        var stable = info.ConnectedFor >= b.StableAfter || upFor >= b.StableAfter;
        if (stable || !info.ServerClosed || info.Kind != DisconnectKind.ConnectionLost)
        {
            _serverCloses.Clear();
            ClearSuspicion(stable
                ? $"a connection stayed up {Math.Max(info.ConnectedFor.TotalSeconds, upFor.TotalSeconds):0} s"
                : $"a connection ended by something other than a clean server close ({info})");
            return false;
        }

        var now = _time.GetTimestamp();
        _serverCloses.Enqueue(now);
        while (_serverCloses.Count > 0 && _time.GetElapsedTime(_serverCloses.Peek(), now) > b.SuspectTakeoverWindow)
        {
            _serverCloses.Dequeue();
        }

        if (!_suspectedTakeover && _serverCloses.Count >= b.SuspectTakeoverCloses)
        {
            Log.SuspectedTakeover(_logger, _client.Options.ClientId, _serverCloses.Count, b.SuspectTakeoverWindow.TotalSeconds,
                (long)b.TakeoverDelay.TotalMilliseconds);
            _suspectedTakeover = true; // after the log line, as when it is cleared
        }

        return _suspectedTakeover;
    }

    private void ClearSuspicion(string why)
    {
        _serverCloses.Clear();
        if (_suspectedTakeover)
        {
            Log.TakeoverSuspicionCleared(_logger, why);
            _suspectedTakeover = false; // after the log line: whoever sees it cleared also finds why
        }
    }

    private async Task<MqttDisconnectInfo?> WaitWhileConnectedAsync(long connectedAt, CancellationToken ct)
    {
        // Beat while connected so a watchdog sees this loop alive during a long, healthy connection.
        var closed = _client.WaitForDisconnectAsync();
        var stableAfter = _client.Options.Backoff.StableAfter;
        var beat = TimeSpan.FromSeconds(5);
        while (!closed.IsCompleted)
        {
            Heartbeat?.Invoke();
            var up = _time.GetElapsedTime(connectedAt);
            if (_suspectedTakeover && up >= stableAfter)
            {
                // Stable while connected: health stops saying "client id in use" now, not only when this one ends.
                ClearSuspicion($"a connection stayed up {up.TotalSeconds:0} s");
            }

            var wait = _suspectedTakeover && stableAfter - up < beat ? stableAfter - up : beat;
            try
            {
                return await closed.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.FromMilliseconds(1), _time, ct).ConfigureAwait(false);
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
