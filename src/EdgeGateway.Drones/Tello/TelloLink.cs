using System.Net;
using System.Text.Json;
using System.Threading.Channels;
using EdgeGateway.Health;
using EdgeGateway.Records;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Drones.Tello;

/// <summary>
/// One drone: a bounded command queue served one at a time, reply matching with stale-reply
/// rejection and resync, state and health. Sockets belong to <see cref="TelloFleet"/>.
/// </summary>
internal sealed class TelloLink : IDroneLink
{
    private readonly TelloFleet _fleet;
    private readonly DroneOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly Lock _healthGate = new();
    // Waiters in send order; a reply goes to the first (FIFO), "forced stop" to the interrupted move.
    private readonly LinkedList<ReplyWaiter> _waiters = new();
    private readonly Channel<QueuedCommand> _queue;
    private readonly string _stateStream;
    private readonly string _eventStream;
    private readonly string _auditStream;
    private readonly RcStickSession _rcSession;
    private LoopHeartbeat? _workerBeat;

    private volatile StateSnapshot? _state;
    private int _health = (int)DroneLinkHealth.Connecting;
    private volatile bool _desynced;
    private volatile bool _flying;
    private volatile bool _batteryKeepalive;
    private long _wrongPortReplies;
    private long _lastSendTs;
    private long _lastReplyTs;
    private long _lastReconnectTs;
    private long _groundSinceTs = -1;
    private long _markedLandedTs = long.MinValue;
    private int _busy;
    private int _internalOutstanding;
    // Pilot commands that can change the flight (not reads or settings); one since a loss cancels the re-land.
    private int _pilotCommands;
    private int _pilotCommandsAtLoss;
    private int _relandArmed;
    // Bumped by stop, emergency and link loss: a Not-joystick retry must not outlive any of them.
    private int _interrupts;
    private volatile string? _current;
    private Task _worker = Task.CompletedTask;

    public TelloLink(TelloFleet fleet, string id, IPEndPoint endPoint, DroneOptions options, TimeProvider time, ILogger logger)
    {
        _fleet = fleet;
        Id = id;
        EndPoint = endPoint;
        _options = options;
        _time = time;
        _logger = logger;
        _stateStream = $"drone/{id}/state";
        _eventStream = $"drone/{id}/events";
        _auditStream = $"drone/{id}/commands";
        _rcSession = new RcStickSession(time, WriteRcAudit);
        _queue = Channel.CreateBounded<QueuedCommand>(new BoundedChannelOptions(options.QueueCapacity)
        {
            // Callers use TryWrite: a full queue is answered with Busy, never waited on.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
        });
        var now = time.GetTimestamp();
        _lastSendTs = now;
        _lastReplyTs = now - (long)(options.MinCommandGap.TotalSeconds * time.TimestampFrequency);
        _lastReconnectTs = now - (long)(options.ReconnectInterval.TotalSeconds * time.TimestampFrequency);
    }

    public string Id { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>Command-channel datagrams from this drone's IP but another port, ignored (never matched to a command).</summary>
    public long WrongPortReplies => Interlocked.Read(ref _wrongPortReplies);

    internal void CountWrongPortReply() => Interlocked.Increment(ref _wrongPortReplies);

    public DroneLinkHealth Health => (DroneLinkHealth)Volatile.Read(ref _health);

    public bool IsConnected => Health is DroneLinkHealth.Fresh or DroneLinkHealth.Degraded;

    public bool IsFlying => _flying;

    public bool IsDesynced => _desynced;

    public DroneStatus Status
    {
        get
        {
            var s = _state;
            return new DroneStatus(Id, EndPoint.ToString(), Health, s?.State, s?.At, _flying);
        }
    }

    public event Action<IDroneLink, TelloState>? StateReceived;

    public event Action<IDroneLink, DroneLinkHealth, DroneLinkHealth>? HealthChanged;

    public void Start(CancellationToken stopping)
    {
        _workerBeat = _fleet.Heartbeats?.Register($"drones.command.{Id}", HeartbeatWait.MaxSilence);
        _worker = Task.Run(() => RunWorkerAsync(stopping), CancellationToken.None);
    }

    public async Task StopAsync()
    {
        _queue.Writer.TryComplete();
        AbortWaiters();
        while (_queue.Reader.TryRead(out var item))
        {
            FinishQueued(item, Result(DroneCommandOutcome.Aborted, null, null, _time.GetTimestamp()));
        }

        try
        {
            await _worker.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // Shutdown proceeds; the socket close below ends any send.
        }

        if (_workerBeat is not null)
        {
            _fleet.Heartbeats?.Unregister(_workerBeat);
        }

        _rcSession.Close();
    }

    public Task<DroneCommandResult> ExecuteAsync(TelloCommand command, CancellationToken cancellationToken = default)
        => ExecuteAsync(command, null, cancellationToken);

    public async Task<DroneCommandResult> ExecuteAsync(TelloCommand command, string? origin, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(command);
        var started = _time.GetTimestamp();
        // rc is audited per stick session (RcStickSession), not per datagram; every other command ends a session.
        var audit = command.Kind == TelloCommandKind.Rc ? null : NewAudit(command, origin);
        // Queued commands: the worker writes the result record, after the send decision is final.
        var workerAudits = false;
        if (command.Kind is TelloCommandKind.Takeoff or TelloCommandKind.Land or TelloCommandKind.Emergency
            or TelloCommandKind.Stop or TelloCommandKind.Motion or TelloCommandKind.Rc)
        {
            Interlocked.Increment(ref _pilotCommands);
        }

        if (command.Kind is TelloCommandKind.Emergency or TelloCommandKind.Stop)
        {
            Interlocked.Increment(ref _interrupts);
        }

        DroneCommandResult result;
        switch (command.Kind)
        {
            case TelloCommandKind.Emergency:
                // Safety first: out at once whatever the health or queue; expect no reply.
                var sent = _fleet.Send(this, command.Text);
                if (sent)
                {
                    audit!.MarkSent();
                }

                Touch();
                MarkLanded();
                _desynced = true;
                AbortWaiters();
                TelloLog.EmergencySent(_logger, Id);
                result = Result(sent ? DroneCommandOutcome.SentNoReply : DroneCommandOutcome.LinkDown, null, null, started);
                break;
            case TelloCommandKind.Rc:
                // Never a pending entry: rc has no reply, and a slot for it would shift every later reply.
                var rcSent = IsConnected && _fleet.Send(this, command.Text);
                result = Result(rcSent ? DroneCommandOutcome.SentNoReply : DroneCommandOutcome.LinkDown, null, null, started);
                Touch();
                _rcSession.OnRc(command, rcSent, origin, _fleet.WallClock.Now().Now);
                break;
            case TelloCommandKind.Stop:
                result = !IsConnected
                    ? Result(DroneCommandOutcome.LinkDown, null, null, started)
                    : await SendAndJudgeAsync(command, _options.CommandTimeout, started, audit!, cancellationToken).ConfigureAwait(false);
                break;
            default:
                if (!IsConnected && command.Kind != TelloCommandKind.EnterSdk)
                {
                    result = Result(DroneCommandOutcome.LinkDown, null, null, started);
                    break;
                }

                var item = new QueuedCommand(command, null, audit, cancellationToken);
                if (!_queue.Writer.TryWrite(item))
                {
                    result = Result(DroneCommandOutcome.Busy, null, null, started);
                    break;
                }

                workerAudits = true;
                // The caller stops waiting at once; the audit result is not written here: the worker may be sending
                // this very command, and only it knows whether the datagram left (it writes the result when done).
                using (cancellationToken.Register(static o =>
                {
                    var (i, link) = ((QueuedCommand, TelloLink))o!;
                    i.Complete(link.Result(DroneCommandOutcome.Aborted, null, null, link._time.GetTimestamp()));
                }, (item, this)))
                {
                    result = await item.Task.ConfigureAwait(false);
                }

                break;
        }

        _fleet.Metrics.Command(Id, command.Kind, result.Outcome, result.Latency);
        TelloLog.Completed(_logger, Id, command.Text, result.Outcome, result.Reply, result.Latency.TotalMilliseconds);
        if (audit is not null && !workerAudits)
        {
            WriteAuditResult(audit, result);
        }

        return result;
    }

    /// <summary>Called by the command receive loop for each text datagram from this drone.</summary>
    public void OnReply(string reply)
    {
        ReplyWaiter? target = null;
        lock (_gate)
        {
            var node = _waiters.First;
            if (node is not null && node.Value.IsStop && reply.StartsWith("forced stop", StringComparison.OrdinalIgnoreCase))
            {
                // The interrupted move is queued behind the stop only if stop went out first; give it its reply.
                for (var n = node.Next; n is not null; n = n.Next)
                {
                    if (!n.Value.IsStop)
                    {
                        node = n;
                        break;
                    }
                }
            }

            if (node is not null)
            {
                target = node.Value;
                _waiters.Remove(node);
            }
        }

        if (target is null || !target.TrySet(reply))
        {
            _fleet.Counters.IncStale();
            _fleet.Metrics.Stale(Id);
            TelloLog.StaleReply(_logger, Id, reply);
        }
    }

    /// <summary>Called by the state receive loop for each parsed datagram from this drone.</summary>
    public void OnState(TelloState state)
    {
        var ts = _time.GetTimestamp();
        var (wall, source) = _fleet.WallClock.Now();
        InferFlying(state, ts);
        DroneLinkHealth before;
        lock (_healthGate)
        {
            _state = new StateSnapshot(state, wall, ts);
            before = (DroneLinkHealth)Interlocked.Exchange(ref _health, (int)DroneLinkHealth.Fresh);
        }

        if (before != DroneLinkHealth.Fresh)
        {
            OnHealthChanged(before, DroneLinkHealth.Fresh);
            if (before == DroneLinkHealth.Lost)
            {
                OnLinkBack(state);
            }
        }

        _fleet.Counters.IncState();
        _fleet.Metrics.State(Id);
        WriteRecord(new TelemetryRecord(_stateStream, RecordKind.DroneState, wall, source, ts, StateJson.Serialize(state)));

        var handler = StateReceived;
        if (handler is not null)
        {
            try
            {
                handler(this, state);
            }
            catch (Exception ex)
            {
                TelloLog.HandlerFailed(_logger, Id, ex);
            }
        }
    }

    /// <summary>Periodic: health from state age, reconnect while lost, keepalive while airborne and idle.</summary>
    public void Tick()
    {
        _rcSession.OnTick();
        var before = DroneLinkHealth.Connecting;
        var after = DroneLinkHealth.Connecting;
        var age = TimeSpan.Zero;
        lock (_healthGate)
        {
            // Under the same lock as OnState so a datagram arriving now cannot be overruled by a stale age.
            if (_state is { } s)
            {
                age = _time.GetElapsedTime(s.Timestamp);
                after = age < _options.DegradedAfter ? DroneLinkHealth.Fresh
                    : age < _options.LostAfter ? DroneLinkHealth.Degraded
                    : DroneLinkHealth.Lost;
                before = (DroneLinkHealth)Interlocked.Exchange(ref _health, (int)after);
            }
        }

        if (before != after)
        {
            if (after == DroneLinkHealth.Lost)
            {
                _desynced = true; // whatever arrives next may belong to anything
                TelloLog.LinkLost(_logger, Id, age.TotalSeconds);
            }

            OnHealthChanged(before, after);
            if (after == DroneLinkHealth.Lost)
            {
                OnLinkLost();
            }
        }

        if (!IsIdle)
        {
            return;
        }

        var h = Health;
        if (h is DroneLinkHealth.Connecting or DroneLinkHealth.Lost)
        {
            if (_time.GetElapsedTime(Interlocked.Read(ref _lastReconnectTs)) >= _options.ReconnectInterval)
            {
                Interlocked.Exchange(ref _lastReconnectTs, _time.GetTimestamp());
                EnqueueInternal(TelloCommand.EnterSdk, null);
            }

            return;
        }

        if (_flying && _options.KeepaliveInterval > TimeSpan.Zero
            && _time.GetElapsedTime(Interlocked.Read(ref _lastSendTs)) >= _options.KeepaliveInterval)
        {
            var keepalive = _batteryKeepalive ? TelloCommand.ReadOf(TelloRead.Battery) : TelloCommand.Keepalive;
            EnqueueInternal(keepalive, r =>
            {
                if (keepalive.Kind == TelloCommandKind.Keepalive && r.Outcome == DroneCommandOutcome.DroneError
                    && r.Reply is { } reply && ReplyParser.Classify(reply) == ReplyClass.UnknownCommand)
                {
                    _batteryKeepalive = true;
                    TelloLog.KeepaliveFallback(_logger, Id, reply);
                    // Send the fallback now rather than wait another interval: the 15-s auto-land clock is running.
                    EnqueueInternal(TelloCommand.ReadOf(TelloRead.Battery), null);
                }
            });
        }
    }

    /// <summary>
    /// The link just went lost: fail the pending command at once (so the <c>command</c> re-sends are not
    /// stuck behind a long move) and, if the drone was airborne, send <c>land</c> best effort (§7.11).
    /// </summary>
    private void OnLinkLost()
    {
        Interlocked.Increment(ref _interrupts);
        var pending = _current;
        if (AbortWaiters() > 0 && pending is not null)
        {
            TelloLog.PendingAbortedOnLoss(_logger, Id, pending);
        }

        if (!_flying || !_options.LandOnLinkLoss)
        {
            return;
        }

        // Waiters are aborted first, so a late "ok" to this land cannot be matched to the aborted command.
        Volatile.Write(ref _pilotCommandsAtLoss, Volatile.Read(ref _pilotCommands));
        Volatile.Write(ref _relandArmed, 1);
        var started = _time.GetTimestamp();
        var audit = NewAudit(TelloCommand.Land, "gateway:land_on_link_loss");
        var sent = _fleet.Send(this, TelloCommand.Land.Text);
        TelloLog.LandOnLinkLoss(_logger, Id);
        WriteLandEvent("land_on_link_loss", sent, null);
        AuditUnwaited(audit, sent, started);
    }

    /// <summary>
    /// State is back after a loss during which <c>land</c> was sent: the drone may never have heard it. If the
    /// state shows it still airborne and no pilot command came meanwhile, land it once more, through the queue.
    /// </summary>
    private void OnLinkBack(TelloState state)
    {
        if (Interlocked.Exchange(ref _relandArmed, 0) == 0 || !_options.LandOnLinkLoss)
        {
            return;
        }

        var airborne = state.HeightCm is { } h ? h > 0 : _flying;
        if (!airborne || Volatile.Read(ref _pilotCommands) != Volatile.Read(ref _pilotCommandsAtLoss))
        {
            return;
        }

        TelloLog.LandOnLinkBack(_logger, Id, state.HeightCm ?? -1);
        var queued = EnqueueInternal(TelloCommand.Land, null, "gateway:land_on_link_back");
        WriteLandEvent("land_on_link_back", queued, state.HeightCm);
    }

    public bool SendLandIfFlying()
    {
        if (!_flying)
        {
            return false;
        }

        TelloLog.LandOnShutdown(_logger, Id);
        var started = _time.GetTimestamp();
        var audit = NewAudit(TelloCommand.Land, "gateway:land_on_shutdown");
        var sent = _fleet.Send(this, TelloCommand.Land.Text);
        AuditUnwaited(audit, sent, started);
        return sent;
    }

    private bool IsIdle
    {
        get
        {
            if (Volatile.Read(ref _busy) != 0 || Volatile.Read(ref _internalOutstanding) != 0 || _queue.Reader.Count != 0)
            {
                return false;
            }

            lock (_gate)
            {
                return _waiters.Count == 0;
            }
        }
    }

    /// <summary>
    /// Queues a command of the link's own. <paramref name="auditOrigin"/> null: housekeeping (keepalive,
    /// reconnect) that is not audited; otherwise a command that can change the flight, audited as the gateway's.
    /// </summary>
    private bool EnqueueInternal(TelloCommand command, Action<DroneCommandResult>? onDone, string? auditOrigin = null)
    {
        Interlocked.Increment(ref _internalOutstanding);
        var started = _time.GetTimestamp();
        var audit = auditOrigin is null ? null : NewAudit(command, auditOrigin);
        var item = new QueuedCommand(command, onDone: r =>
        {
            Interlocked.Decrement(ref _internalOutstanding);
            _fleet.Metrics.Command(Id, command.Kind, r.Outcome, r.Latency);
            TelloLog.Completed(_logger, Id, command.Text, r.Outcome, r.Reply, r.Latency.TotalMilliseconds);
            onDone?.Invoke(r); // the audit result is written by FinishQueued
        }, audit, CancellationToken.None);
        if (!_queue.Writer.TryWrite(item))
        {
            Interlocked.Decrement(ref _internalOutstanding);
            if (audit is not null)
            {
                WriteAuditResult(audit, Result(DroneCommandOutcome.Busy, null, null, started));
            }

            return false;
        }

        return true;
    }

    private async Task RunWorkerAsync(CancellationToken stopping)
    {
        try
        {
            while (true)
            {
                _workerBeat?.Beat();
                // Idle is healthy: beat while waiting. The wait ends by itself on stopping or when the queue completes.
                var waiting = _queue.Reader.WaitToReadAsync(stopping);
                var more = waiting.IsCompleted || _workerBeat is null
                    ? await waiting.ConfigureAwait(false)
                    : await HeartbeatWait.WaitAsync(waiting.AsTask(), _workerBeat, _time).ConfigureAwait(false);
                if (!more)
                {
                    break;
                }

                if (!_queue.Reader.TryRead(out var item))
                {
                    continue;
                }

                _workerBeat?.Beat();
                Volatile.Write(ref _busy, 1);
                _current = item.Command.Text;
                DroneCommandResult result;
                var started = _time.GetTimestamp();
                try
                {
                    using var linked = CancellationTokenSource.CreateLinkedTokenSource(stopping, item.CallerToken);
                    result = await ProcessAsync(item.Command, started, item.Audit, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    result = Result(DroneCommandOutcome.Aborted, null, null, started);
                }
                catch (Exception ex)
                {
                    TelloLog.LoopFailed(_logger, "command worker " + Id, ex);
                    _desynced = true;
                    result = Result(DroneCommandOutcome.Aborted, null, null, started);
                }
                finally
                {
                    _current = null;
                    Volatile.Write(ref _busy, 0);
                }

                FinishQueued(item, result);
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // Shutdown.
        }
    }

    /// <summary>
    /// The one place a queued command's audit result is written: by the worker once the send decision is final (or by
    /// shutdown for a command that never left the queue), so its sent record, if any, always comes first.
    /// </summary>
    private void FinishQueued(QueuedCommand item, DroneCommandResult result)
    {
        if (item.Audit is not null)
        {
            WriteAuditResult(item.Audit, result);
        }

        item.Complete(result);
    }

    private async Task<DroneCommandResult> ProcessAsync(TelloCommand command, long started, AuditEntry? audit, CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        if (!IsConnected && command.Kind != TelloCommandKind.EnterSdk)
        {
            return Result(DroneCommandOutcome.LinkDown, null, null, started);
        }

        var attempts = command.IsRetryable ? 1 + _options.ReadRetries : 1;
        var timeout = TimeoutFor(command);
        var interrupts = Volatile.Read(ref _interrupts);
        var notJoystickRetried = false;
        for (var attempt = 1; ; attempt++)
        {
            // `command` itself needs no resync: its reply proves nothing and a stray ok is harmless.
            if (_desynced && command.Kind != TelloCommandKind.EnterSdk && !await ResyncAsync(ct).ConfigureAwait(false))
            {
                return Result(DroneCommandOutcome.LinkDown, null, null, started);
            }

            await GapAsync(ct).ConfigureAwait(false);
            var waiter = SendWithWaiter(command.Text, isStop: false, requireConnected: command.Kind != TelloCommandKind.EnterSdk);
            if (waiter is null)
            {
                return Result(DroneCommandOutcome.LinkDown, null, null, started);
            }

            if (audit is not null && audit.MarkSent())
            {
                WriteAuditSent(audit);
            }

            var (reply, timedOut) = await WaitAsync(waiter, timeout, ct).ConfigureAwait(false);
            MarkReply();
            if (timedOut)
            {
                _desynced = true;
                var retry = attempt < attempts;
                if (command.Kind == TelloCommandKind.EnterSdk && !IsConnected)
                {
                    TelloLog.NoAnswerWhileConnecting(_logger, Id);
                }
                else
                {
                    TelloLog.TimedOut(_logger, Id, command.Text, timeout.TotalMilliseconds, retry ? "; retrying" : "");
                }

                if (retry)
                {
                    continue;
                }

                return Result(DroneCommandOutcome.Timeout, null, null, started);
            }

            if (reply is null)
            {
                return Result(DroneCommandOutcome.Aborted, null, null, started);
            }

            var judged = Judge(command, reply, started);
            if (judged is not null)
            {
                if (!notJoystickRetried && IsNotJoystick(command, judged))
                {
                    // §7.12: "Not joystick" means not executed. Retry once, only from a hover.
                    notJoystickRetried = true;
                    TelloLog.NotJoystickRetry(_logger, Id, command.Text, reply);
                    var why = await WaitForHoverAsync(_time.GetTimestamp(), interrupts, ct).ConfigureAwait(false);
                    if (why is null)
                    {
                        _fleet.Counters.IncNotJoystickRetry();
                        _fleet.Metrics.NotJoystickRetry(Id);
                        continue;
                    }

                    TelloLog.NotJoystickNoRetry(_logger, Id, command.Text, reply, why);
                }

                return judged;
            }

            if (attempt >= attempts)
            {
                // Never hand back a value that may belong to another command; the outcome is unknown.
                return Result(DroneCommandOutcome.Timeout, reply, null, started);
            }
        }
    }

    private async Task<DroneCommandResult> SendAndJudgeAsync(TelloCommand command, TimeSpan timeout, long started, AuditEntry audit, CancellationToken ct)
    {
        var waiter = SendWithWaiter(command.Text, isStop: command.Kind == TelloCommandKind.Stop, requireConnected: true);
        if (waiter is null)
        {
            return Result(DroneCommandOutcome.LinkDown, null, null, started);
        }

        if (audit.MarkSent())
        {
            WriteAuditSent(audit);
        }

        try
        {
            // Runs on the caller, not the worker: it must not beat the worker's heartbeat.
            var (reply, timedOut) = await WaitAsync(waiter, timeout, ct, beat: false).ConfigureAwait(false);
            if (timedOut)
            {
                _desynced = true;
                TelloLog.TimedOut(_logger, Id, command.Text, timeout.TotalMilliseconds, "");
                return Result(DroneCommandOutcome.Timeout, null, null, started);
            }

            return reply is null
                ? Result(DroneCommandOutcome.Aborted, null, null, started)
                : Judge(command, reply, started) ?? Result(DroneCommandOutcome.Timeout, reply, null, started);
        }
        catch (OperationCanceledException)
        {
            return Result(DroneCommandOutcome.Aborted, null, null, started);
        }
    }

    /// <summary>Null when the reply does not fit the command (the link is then desynced).</summary>
    private DroneCommandResult? Judge(TelloCommand command, string reply, long started)
    {
        switch (ReplyParser.Match(command, reply, out var values))
        {
            case ReplyMatch.Success:
                if (command.Kind == TelloCommandKind.Takeoff)
                {
                    _flying = true;
                }
                else if (command.Kind == TelloCommandKind.Land)
                {
                    MarkLanded();
                }

                return Result(DroneCommandOutcome.Ok, reply, values, started);
            case ReplyMatch.Failure:
                if (reply.Contains("motor stop", StringComparison.OrdinalIgnoreCase)
                    || reply.Contains("auto land", StringComparison.OrdinalIgnoreCase))
                {
                    MarkLanded();
                }

                return Result(DroneCommandOutcome.DroneError, reply, null, started);
            default:
                _desynced = true;
                TelloLog.Mismatch(_logger, Id, command.Text, reply);
                return null;
        }
    }

    /// <summary>Sends <c>sn?</c> and discards everything until a serial number (or a reply naming <c>sn?</c>) arrives.</summary>
    private async Task<bool> ResyncAsync(CancellationToken ct)
    {
        _fleet.Counters.IncResync();
        _fleet.Metrics.Resync(Id);
        for (var attempt = 1; attempt <= _options.ResyncAttempts; attempt++)
        {
            await GapAsync(ct).ConfigureAwait(false);
            var deadline = _time.GetTimestamp() + (long)(_options.CommandTimeout.TotalSeconds * _time.TimestampFrequency);
            var waiter = SendWithWaiter("sn?", isStop: false, requireConnected: true);
            if (waiter is null)
            {
                return false;
            }

            while (true)
            {
                var remaining = TimeSpan.FromSeconds((double)(deadline - _time.GetTimestamp()) / _time.TimestampFrequency);
                if (remaining <= TimeSpan.Zero)
                {
                    Remove(waiter);
                    break;
                }

                var (reply, timedOut) = await WaitAsync(waiter, remaining, ct).ConfigureAwait(false);
                MarkReply();
                if (timedOut)
                {
                    break;
                }

                if (reply is null)
                {
                    return false; // emergency
                }

                if (ReplyParser.IsSerialNumber(reply)
                    || (ReplyParser.Classify(reply) == ReplyClass.UnknownCommand && reply.Contains("sn?", StringComparison.Ordinal)))
                {
                    _desynced = false;
                    TelloLog.Resynced(_logger, Id, reply);
                    return true;
                }

                _fleet.Counters.IncStale();
                _fleet.Metrics.Stale(Id);
                TelloLog.StaleReply(_logger, Id, reply);
                waiter = RegisterWaiter();
            }
        }

        TelloLog.ResyncFailed(_logger, Id, _options.ResyncAttempts);
        return false;
    }

    private TimeSpan TimeoutFor(TelloCommand command) => command.Kind switch
    {
        TelloCommandKind.Takeoff => _options.TakeoffTimeout,
        TelloCommandKind.Land => _options.LandTimeout,
        TelloCommandKind.Motion when command.Text.StartsWith("go ", StringComparison.Ordinal)
            || command.Text.StartsWith("curve ", StringComparison.Ordinal)
            || command.Text.StartsWith("jump ", StringComparison.Ordinal) => _options.GoCurveTimeout,
        TelloCommandKind.Motion => command.ExpectedDuration + _options.MoveTimeoutMargin,
        _ => _options.CommandTimeout,
    };

    private async Task GapAsync(CancellationToken ct)
    {
        var elapsed = _time.GetElapsedTime(Interlocked.Read(ref _lastReplyTs));
        if (elapsed < _options.MinCommandGap)
        {
            await Task.Delay(_options.MinCommandGap - elapsed, _time, ct).ConfigureAwait(false);
        }
    }

    private ReplyWaiter RegisterWaiter()
    {
        var waiter = new ReplyWaiter(false);
        lock (_gate)
        {
            _waiters.AddLast(waiter);
        }

        return waiter;
    }

    // Register and send under one lock so the waiter order is the send order. The health check sits in the
    // same lock: a loss either refuses this send or finds (and aborts) its waiter.
    private ReplyWaiter? SendWithWaiter(string text, bool isStop, bool requireConnected)
    {
        var waiter = new ReplyWaiter(isStop);
        lock (_gate)
        {
            if (requireConnected && !IsConnected)
            {
                return null;
            }

            _waiters.AddLast(waiter);
            if (!_fleet.Send(this, text))
            {
                _waiters.Remove(waiter);
                return null;
            }
        }

        Touch();
        return waiter;
    }

    private async Task<(string? Reply, bool TimedOut)> WaitAsync(ReplyWaiter waiter, TimeSpan timeout, CancellationToken ct, bool beat = true)
    {
        // A long wait (takeoff 20 s, go 60 s) is cut into slices so the worker keeps beating; the deadline is fixed.
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        try
        {
            while (true)
            {
                var remaining = TimeSpan.FromSeconds(Math.Max(0, (double)(deadline - _time.GetTimestamp()) / _time.TimestampFrequency));
                var slice = beat && _workerBeat is not null && remaining > HeartbeatWait.Slice ? HeartbeatWait.Slice : remaining;
                try
                {
                    return (await waiter.Task.WaitAsync(slice, _time, ct).ConfigureAwait(false), false);
                }
                catch (TimeoutException) when (slice < remaining)
                {
                    _workerBeat?.Beat();
                }
            }
        }
        catch (TimeoutException)
        {
            if (!Remove(waiter) && waiter.Task.IsCompletedSuccessfully)
            {
                return (waiter.Task.Result, false); // the reply won the race with the timer
            }

            return (null, true);
        }
        catch (OperationCanceledException)
        {
            Remove(waiter);
            _desynced = true; // its reply may still arrive
            throw;
        }
    }

    private bool Remove(ReplyWaiter waiter)
    {
        lock (_gate)
        {
            return _waiters.Remove(waiter);
        }
    }

    private int AbortWaiters()
    {
        ReplyWaiter[] all;
        lock (_gate)
        {
            all = [.. _waiters];
            _waiters.Clear();
        }

        foreach (var w in all)
        {
            w.TrySet(null);
        }

        return all.Length;
    }

    private static readonly TimeSpan HoverPoll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan SettleWithoutSpeeds = TimeSpan.FromMilliseconds(500);

    private static bool IsNotJoystick(TelloCommand command, DroneCommandResult result) =>
        command.Kind == TelloCommandKind.Motion && result.Outcome == DroneCommandOutcome.DroneError
        && result.Reply is { } r && r.Contains("not joystick", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Waits for a state datagram, received after <paramref name="since"/>, that shows a hover: airborne and every
    /// vg* within ±1 (or, for firmware without vg*, any airborne datagram once a short settle time has passed).
    /// Returns null on a hover, else why there was none.
    /// </summary>
    private async Task<string?> WaitForHoverAsync(long since, int interrupts, CancellationToken ct)
    {
        var timeout = _options.NotJoystickHoverTimeout;
        if (timeout <= TimeSpan.Zero)
        {
            return "the retry is disabled (NotJoystickHoverTimeout 0)";
        }

        while (true)
        {
            if (Volatile.Read(ref _interrupts) != interrupts)
            {
                return "a stop, emergency or link loss came meanwhile";
            }

            if (!IsConnected)
            {
                return "the link is down";
            }

            if (_state is { } s && s.Timestamp > since)
            {
                var st = s.State;
                if (st.HeightCm is <= 0)
                {
                    return "state shows it on the ground";
                }

                var speeds = st.SpeedX is not null || st.SpeedY is not null || st.SpeedZ is not null;
                if (speeds ? Still(st.SpeedX) && Still(st.SpeedY) && Still(st.SpeedZ)
                    : _time.GetElapsedTime(since) >= SettleWithoutSpeeds)
                {
                    return null;
                }
            }

            if (_time.GetElapsedTime(since) >= timeout)
            {
                return $"state showed no hover within {timeout.TotalSeconds:0.#} s";
            }

            _workerBeat?.Beat();
            await Task.Delay(HoverPoll, _time, ct).ConfigureAwait(false);
        }

        static bool Still(int? v) => v is null or >= -1 and <= 1;
    }

    private static readonly TimeSpan LandedHoldOff = TimeSpan.FromSeconds(2);

    private void MarkLanded()
    {
        Interlocked.Exchange(ref _markedLandedTs, _time.GetTimestamp());
        _flying = false;
    }

    private void Touch() => Interlocked.Exchange(ref _lastSendTs, _time.GetTimestamp());

    private void MarkReply() => Interlocked.Exchange(ref _lastReplyTs, _time.GetTimestamp());

    private void InferFlying(TelloState state, long ts)
    {
        if (state.HeightCm is not { } h)
        {
            return;
        }

        if (h > 0)
        {
            _groundSinceTs = -1;
            // Datagrams sent just before a land/emergency still show height; do not let them undo it.
            if (Interlocked.Read(ref _markedLandedTs) == long.MinValue
                || _time.GetElapsedTime(Interlocked.Read(ref _markedLandedTs)) >= LandedHoldOff)
            {
                _flying = true;
            }

            return;
        }

        // On the ground for a second (not a momentary 0 during a descent): landed, e.g. an auto-land.
        if (_groundSinceTs < 0)
        {
            _groundSinceTs = ts;
        }
        else if (_flying && _time.GetElapsedTime(_groundSinceTs) >= TimeSpan.FromSeconds(1))
        {
            _flying = false;
        }
    }

    private void OnHealthChanged(DroneLinkHealth old, DroneLinkHealth health)
    {
        TelloLog.HealthChanged(_logger, Id, old, health);
        if (health == DroneLinkHealth.Fresh && old is DroneLinkHealth.Connecting or DroneLinkHealth.Lost)
        {
            WriteEvent("link_up", old, health);
        }
        else if (health == DroneLinkHealth.Lost)
        {
            WriteEvent("link_down", old, health);
        }

        var handler = HealthChanged;
        if (handler is not null)
        {
            try
            {
                handler(this, old, health);
            }
            catch (Exception ex)
            {
                TelloLog.HandlerFailed(_logger, Id, ex);
            }
        }
    }

    private void WriteEvent(string name, DroneLinkHealth old, DroneLinkHealth health)
    {
        var (wall, source) = _fleet.WallClock.Now();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("event", name);
            w.WriteString("drone_id", Id);
            w.WriteString("address", EndPoint.ToString());
            w.WriteString("health_from", old.ToString().ToLowerInvariant());
            w.WriteString("health_to", health.ToString().ToLowerInvariant());
            w.WriteEndObject();
        }

        WriteRecord(new TelemetryRecord(_eventStream, RecordKind.Event, wall, source, _time.GetTimestamp(), stream.ToArray()));
    }

    private void WriteLandEvent(string name, bool sent, int? heightCm)
    {
        var (wall, source) = _fleet.WallClock.Now();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("event", name);
            w.WriteString("drone_id", Id);
            w.WriteString("address", EndPoint.ToString());
            w.WriteString("command", TelloCommand.Land.Text);
            // land_on_link_loss: the datagram left the socket; land_on_link_back: the command was queued.
            w.WriteBoolean("sent", sent);
            if (heightCm is { } h)
            {
                w.WriteNumber("height_cm", h);
            }

            w.WriteEndObject();
        }

        WriteRecord(new TelemetryRecord(_eventStream, RecordKind.Event, wall, source, _time.GetTimestamp(), stream.ToArray()));
    }

    private void WriteRecord(TelemetryRecord record)
    {
        if (!_fleet.Records.TryWrite(record))
        {
            _fleet.Counters.IncRecordDropped();
            TelloLog.RecordDropped(_logger, Id);
        }
    }

    private AuditEntry NewAudit(TelloCommand command, string? origin)
    {
        // Another command ends a stick session; its end record comes before this command's records.
        _rcSession.OnOtherCommand();
        return new(Guid.CreateVersion7().ToString("N"), command, origin, _fleet.WallClock.Now().Now);
    }

    /// <summary>A command sent without waiting for a reply (gateway lands): its one audit record.</summary>
    private void AuditUnwaited(AuditEntry audit, bool sent, long started)
    {
        if (sent)
        {
            audit.MarkSent();
        }

        WriteAuditResult(audit, Result(sent ? DroneCommandOutcome.SentNoReply : DroneCommandOutcome.LinkDown, null, null, started));
    }

    /// <summary>
    /// The "sent" record, written when the datagram of a command that waits for a reply first leaves the socket, so an
    /// auditor sees it even if the gateway dies before the reply. Reads only get their result record: they change nothing.
    /// </summary>
    private void WriteAuditSent(AuditEntry audit)
    {
        // Never a sent record after the result of the same audit_id.
        if (audit.Command.Kind != TelloCommandKind.Read && !audit.IsFinished)
        {
            WriteAudit(audit, null);
        }
    }

    private void WriteAuditResult(AuditEntry audit, DroneCommandResult result)
    {
        if (audit.TryFinish())
        {
            WriteAudit(audit, result);
        }
    }

    private void WriteAudit(AuditEntry audit, DroneCommandResult? result)
    {
        var (wall, source) = _fleet.WallClock.Now();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("phase", result is null ? "sent" : "result");
            w.WriteString("audit_id", audit.Id);
            w.WriteString("drone_id", Id);
            w.WriteString("command", audit.Command.Text);
            w.WriteString("kind", KindName(audit.Command.Kind));
            if (audit.Origin is { } origin)
            {
                w.WriteString("origin", origin);
            }
            else
            {
                w.WriteNull("origin");
            }

            w.WriteString("requested_at", audit.RequestedAt);
            if (result is not null)
            {
                w.WriteString("outcome", OutcomeName(result.Outcome));
                w.WriteBoolean("sent", audit.WasSent);
                if (result.Reply is { } reply)
                {
                    w.WriteString("reply", reply);
                }
                else
                {
                    w.WriteNull("reply");
                }

                w.WriteNumber("latency_ms", Math.Round(result.Latency.TotalMilliseconds, 1));
            }

            w.WriteEndObject();
        }

        WriteRecord(new TelemetryRecord(_auditStream, RecordKind.CommandAudit, wall, source, _time.GetTimestamp(), stream.ToArray()));
    }

    /// <summary>A stick session's start or end record (see <see cref="RcStickSession"/>), on the same audit stream.</summary>
    private void WriteRcAudit(RcSessionRecord session)
    {
        var (wall, source) = _fleet.WallClock.Now();
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteString("phase", session.Phase == RcSessionPhase.Start ? "rc_start" : "rc_end");
            w.WriteString("audit_id", session.Id);
            w.WriteString("drone_id", Id);
            w.WriteString("command", session.Command);
            w.WriteString("kind", "rc");
            if (session.Origin is { } origin)
            {
                w.WriteString("origin", origin);
            }
            else
            {
                w.WriteNull("origin");
            }

            w.WriteString("requested_at", session.StartedAt);
            w.WriteBoolean("sent", session.Sent > 0);
            w.WriteNumber("rc_count", session.Count);
            w.WriteNumber("rc_sent", session.Sent);
            w.WriteStartObject("max_abs");
            w.WriteNumber("roll", session.MaxAbs[0]);
            w.WriteNumber("pitch", session.MaxAbs[1]);
            w.WriteNumber("throttle", session.MaxAbs[2]);
            w.WriteNumber("yaw", session.MaxAbs[3]);
            w.WriteEndObject();
            if (session.EndedBy is { } end)
            {
                w.WriteString("ended_by", end switch
                {
                    RcSessionEnd.Zero => "zero",
                    RcSessionEnd.Idle => "idle",
                    RcSessionEnd.Command => "command",
                    RcSessionEnd.OriginChanged => "origin_changed",
                    _ => "shutdown",
                });
                w.WriteNumber("duration_ms", Math.Round(session.Duration.TotalMilliseconds, 1));
            }

            w.WriteEndObject();
        }

        WriteRecord(new TelemetryRecord(_auditStream, RecordKind.CommandAudit, wall, source, _time.GetTimestamp(), stream.ToArray()));
    }

    internal static string OutcomeName(DroneCommandOutcome outcome) => outcome switch
    {
        DroneCommandOutcome.Ok => "ok",
        DroneCommandOutcome.DroneError => "drone_error",
        DroneCommandOutcome.Timeout => "timeout",
        DroneCommandOutcome.SentNoReply => "sent_no_reply",
        DroneCommandOutcome.LinkDown => "link_down",
        DroneCommandOutcome.Busy => "busy",
        _ => "aborted",
    };

    private static string KindName(TelloCommandKind kind) => kind switch
    {
        TelloCommandKind.EnterSdk => "enter_sdk",
        _ => kind.ToString().ToLowerInvariant(),
    };

    private DroneCommandResult Result(DroneCommandOutcome outcome, string? reply, IReadOnlyDictionary<string, double>? values, long started) =>
        new(outcome, reply, values, _time.GetElapsedTime(started));

    /// <summary>One command's audit: the id that joins its sent and result records, and whether its datagram left.</summary>
    private sealed class AuditEntry(string id, TelloCommand command, string? origin, DateTimeOffset requestedAt)
    {
        private int _sent;
        private int _finished;

        public string Id { get; } = id;

        public TelloCommand Command { get; } = command;

        public string? Origin { get; } = origin;

        public DateTimeOffset RequestedAt { get; } = requestedAt;

        public bool WasSent => Volatile.Read(ref _sent) != 0;

        public bool IsFinished => Volatile.Read(ref _finished) != 0;

        /// <summary>True the first time only.</summary>
        public bool MarkSent() => Interlocked.Exchange(ref _sent, 1) == 0;

        /// <summary>True the first time only: one result record per command.</summary>
        public bool TryFinish() => Interlocked.Exchange(ref _finished, 1) == 0;
    }

    private sealed record StateSnapshot(TelloState State, DateTimeOffset At, long Timestamp);

    private sealed class ReplyWaiter(bool isStop)
    {
        private readonly TaskCompletionSource<string?> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool IsStop { get; } = isStop;

        public Task<string?> Task => _tcs.Task;

        /// <summary>Null aborts (emergency, shutdown).</summary>
        public bool TrySet(string? reply) => _tcs.TrySetResult(reply);
    }

    private sealed class QueuedCommand(TelloCommand command, Action<DroneCommandResult>? onDone, AuditEntry? audit, CancellationToken callerToken)
    {
        public AuditEntry? Audit { get; } = audit;

        private readonly TaskCompletionSource<DroneCommandResult> _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TelloCommand Command { get; } = command;

        public CancellationToken CallerToken { get; } = callerToken;

        public Task<DroneCommandResult> Task => _tcs.Task;

        public void Complete(DroneCommandResult result)
        {
            if (_tcs.TrySetResult(result))
            {
                onDone?.Invoke(result);
            }
        }
    }
}
