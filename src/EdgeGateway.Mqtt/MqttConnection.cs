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
    private readonly Queue<long> _kicks = new();
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
    /// True while the broker keeps closing our connections cleanly and accepting us again at once (see
    /// <see cref="MqttBackoffOptions.SuspectTakeoverCloses"/>), or said "session taken over": another client with the
    /// same client id is probably connected. For health reporting: "client id in use".
    /// </summary>
    public bool SuspectedTakeover => _suspectedTakeover;

    /// <summary>Optional hook called on every loop turn (a <c>LoopHeartbeat.Beat</c> in the gateway).</summary>
    public Action? Heartbeat { get; set; }

    public void Start() => _loop ??= Task.Run(() => RunAsync(_stop.Token));

    private async Task RunAsync(CancellationToken ct)
    {
        var probing = false; // this attempt follows a clean server close at once: does the broker still accept us?
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
                    if (probing)
                    {
                        // The broker closed us and accepted us again at once: it never went away (a restart refuses
                        // this attempt), so that close was a kick. Positive evidence, counted towards a twin.
                        NoteKick();
                    }

                    probing = false;
                    // Proven when something pending is acknowledged, or at once when nothing waits to be sent.
                    var proven = _client.PendingCount == 0 ? Task.CompletedTask : _client.WaitForFirstAcknowledgementAsync();
                    var info = await WaitWhileConnectedAsync(connectedAt, proven, ct).ConfigureAwait(false);
                    if (info is null || info.Kind == DisconnectKind.Local)
                    {
                        if (ct.IsCancellationRequested)
                        {
                            return;
                        }
                    }

                    retryClass = info is null ? RetryClass.Normal : ReconnectBackoff.Classify(info);
                    if (info is not null && retryClass == RetryClass.Normal)
                    {
                        retryClass = AfterConnectionEnded(info, _time.GetElapsedTime(connectedAt));
                        probing = retryClass == RetryClass.Immediate;
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
                        // a twin never causes that (the broker accepts us and closes the other one); a restart does.
                        ClearSuspicion(probing
                            ? $"the broker refused the reconnect right after closing us: a restart, not another client ({why})"
                            : $"a connect attempt failed on the network ({why})");
                    }

                    probing = false;
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

                if (retryClass == RetryClass.Takeover && !_suspectedTakeover)
                {
                    _suspectedTakeover = true; // DISCONNECT 0x8E: health says "client id in use" too
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
                probing = false;
                await Task.Delay(_client.Options.Backoff.InitialDelay, _time, ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// How to retry after a connection that ended with a Normal class. A clean server close (end of stream, no
    /// DISCONNECT, no reset, no timeout) is what mosquitto does both when it shuts down and when another client takes our
    /// client id over (2.0.11 sends no DISCONNECT 0x8E, reference B10). The two differ in one thing: a restarting broker
    /// closes its listener first, so a reconnect made at once is refused; a broker that only kicked us accepts it. So a
    /// clean close is answered with an immediate reconnect (<see cref="RetryClass.Immediate"/>), and only its success
    /// counts as a kick (<see cref="NoteKick"/>). While a twin is suspected, a clean close waits the takeover delay.
    /// Anything else clears the suspicion.
    /// </summary>
    private RetryClass AfterConnectionEnded(MqttDisconnectInfo info, TimeSpan upFor)
    {
        var b = _client.Options.Backoff;
        if (b.SuspectTakeoverCloses == 0)
        {
            return RetryClass.Normal;
        }

        if (info.RepeatedDropAfterSend)
        {
            // The poison guard's business, not a twin's.
            return _suspectedTakeover ? RetryClass.Takeover : RetryClass.Normal;
        }

        var stable = info.ConnectedFor >= b.StableAfter || upFor >= b.StableAfter;
        var cleanServerClose = info.ServerClosed && info.Kind == DisconnectKind.ConnectionLost;
        if (!cleanServerClose)
        {
            ClearSuspicion($"a connection ended by something other than a clean server close ({info})");
            return RetryClass.Normal;
        }

        if (stable)
        {
            _kicks.Clear();
            ClearSuspicion($"a connection stayed up {Math.Max(info.ConnectedFor.TotalSeconds, upFor.TotalSeconds):0} s");
        }

        return _suspectedTakeover ? RetryClass.Takeover : RetryClass.Immediate;
    }

    /// <summary>The broker accepted us right after closing us: one kick. Enough of them within the window: a twin.</summary>
    private void NoteKick()
    {
        var b = _client.Options.Backoff;
        var now = _time.GetTimestamp();
        _kicks.Enqueue(now);
        while (_kicks.Count > 0 && _time.GetElapsedTime(_kicks.Peek(), now) > b.SuspectTakeoverWindow)
        {
            _kicks.Dequeue();
        }

        if (!_suspectedTakeover && _kicks.Count >= b.SuspectTakeoverCloses)
        {
            Log.SuspectedTakeover(_logger, _client.Options.ClientId, _kicks.Count, b.SuspectTakeoverWindow.TotalSeconds,
                (long)b.TakeoverDelay.TotalMilliseconds);
            _suspectedTakeover = true; // after the log line, as when it is cleared
        }
    }

    private void ClearSuspicion(string why)
    {
        _kicks.Clear();
        if (_suspectedTakeover)
        {
            Log.TakeoverSuspicionCleared(_logger, why);
            _suspectedTakeover = false; // after the log line: whoever sees it cleared also finds why
        }
    }

    private async Task<MqttDisconnectInfo?> WaitWhileConnectedAsync(long connectedAt, Task? proven, CancellationToken ct)
    {
        // Beat while connected so a watchdog sees this loop alive during a long, healthy connection.
        var closed = _client.WaitForDisconnectAsync();
        var stableAfter = _client.Options.Backoff.StableAfter;
        var beat = TimeSpan.FromSeconds(5);
        var reset = false;
        while (!closed.IsCompleted)
        {
            Heartbeat?.Invoke();
            if (!reset && proven is { IsCompleted: true })
            {
                // CONNACK and a PUBACK (or nothing to send): the link works, so the next loss starts from InitialDelay.
                // Waiting for a connection to stay up StableAfter instead let restarts every few seconds grow it to minutes.
                _backoff.Reset();
                reset = true;
            }

            var up = _time.GetElapsedTime(connectedAt);
            if (_suspectedTakeover && up >= stableAfter)
            {
                // Stable while connected: health stops saying "client id in use" now, not only when this one ends.
                ClearSuspicion($"a connection stayed up {up.TotalSeconds:0} s");
            }

            var wait = _suspectedTakeover && stableAfter - up < beat ? stableAfter - up : beat;
            try
            {
                Task next = !reset && proven is not null ? Task.WhenAny(closed, proven) : closed;
                await next.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.FromMilliseconds(1), _time, ct).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
            }
        }

        if (!reset && proven is { IsCompleted: true })
        {
            _backoff.Reset();
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
