using EdgeGateway.Drones;
using EdgeGateway.Health;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Commands;

/// <summary>A drone's control state at one moment (see <see cref="PilotControl.Describe"/>).</summary>
internal sealed record ControlSnapshot(string? Holder, DateTimeOffset? Since, bool HolderOnSocket, double? HolderSilentSeconds,
    bool FailsafeHovering, double? LandInSeconds);

internal enum ControlDecision
{
    Granted,
    AlreadyHeld,
    Denied,
}

/// <summary>
/// One pilot per drone, and the failsafe when that pilot vanishes while the drone flies:
/// <c>stop</c> (hover) at once, then <c>land</c> after a grace period unless a pilot takes control.
/// All decisions run under one lock; drone commands are sent outside it.
/// </summary>
internal sealed class PilotControl : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, DroneControl> _drones = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _lastSeen = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _openSockets = new(StringComparer.Ordinal);
    private readonly IDroneFleet _fleet;
    private readonly LocalHub _hub;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LocalApiMetrics _metrics;
    private readonly LocalApiFailsafeOptions _options;
    private readonly ITimer? _timer;
    private readonly LoopHeartbeat? _heartbeat;
    private readonly LoopHeartbeatRegistry? _heartbeats;

    public PilotControl(IDroneFleet fleet, LocalHub hub, IOptions<LocalApiOptions> options, TimeProvider time,
        ILogger<PilotControl> logger, LocalApiMetrics metrics, LoopHeartbeatRegistry? heartbeats = null)
    {
        _fleet = fleet;
        _hub = hub;
        _time = time;
        _logger = logger;
        _metrics = metrics;
        _options = options.Value.Failsafe;
        var interval = TimeSpan.FromSeconds(_options.CheckIntervalSeconds);
        _heartbeats = heartbeats;
        _heartbeat = heartbeats?.Register("localapi-failsafe", interval * 20 + TimeSpan.FromSeconds(5));
        if (_options.Enabled)
        {
            _timer = time.CreateTimer(_ => Check(), null, interval, interval);
        }
    }

    private sealed class DroneControl
    {
        public string? Holder;
        public ClientRole HolderRole;
        /// <summary>The holder took control over a WebSocket: closing the last one means gone at once.</summary>
        public bool HolderOnSocket;
        /// <summary>When the holder took control (for the console's "since").</summary>
        public DateTimeOffset HolderSince;
        public bool Hovering;
        public long HoverSince;
        public string? FormerHolder;
    }

    public string? HolderOf(string droneId)
    {
        lock (_gate)
        {
            return _drones.TryGetValue(droneId, out var d) ? d.Holder : null;
        }
    }

    public bool IsInFailsafe(string droneId)
    {
        lock (_gate)
        {
            return _drones.TryGetValue(droneId, out var d) && d.Hovering;
        }
    }

    /// <summary>
    /// Who holds control of a drone, since when, how long the holder has been silent against the failsafe's limit, and
    /// the failsafe's hover countdown: what a console shows so a pilot sees the failsafe coming.
    /// </summary>
    public ControlSnapshot Describe(string droneId)
    {
        lock (_gate)
        {
            if (!_drones.TryGetValue(droneId, out var d))
            {
                return new ControlSnapshot(null, null, false, null, false, null);
            }

            double? silentFor = d.Holder is { } h && _lastSeen.TryGetValue(h, out var seen) ? _time.GetElapsedTime(seen).TotalSeconds : null;
            double? landIn = d.Hovering ? Math.Max(0, _options.LandGraceSeconds - _time.GetElapsedTime(d.HoverSince).TotalSeconds) : null;
            return new ControlSnapshot(d.Holder, d.Holder is null ? null : d.HolderSince, d.HolderOnSocket, silentFor, d.Hovering, landIn);
        }
    }

    /// <summary>Any message or request from this identity: it is still there.</summary>
    public void Touch(string identity)
    {
        lock (_gate)
        {
            _lastSeen[identity] = _time.GetTimestamp();
        }
    }

    public void SocketOpened(string identity)
    {
        lock (_gate)
        {
            _openSockets[identity] = _openSockets.GetValueOrDefault(identity) + 1;
            _lastSeen[identity] = _time.GetTimestamp();
        }
    }

    public void SocketClosed(string identity)
    {
        lock (_gate)
        {
            var n = _openSockets.GetValueOrDefault(identity) - 1;
            if (n <= 0)
            {
                _openSockets.Remove(identity);
            }
            else
            {
                _openSockets[identity] = n;
            }
        }

        // Do not wait for the next tick: a closed socket is a clear signal.
        Check();
    }

    /// <summary>Takes control implicitly (flight command) or explicitly (<c>take_control</c>; admins may take over).</summary>
    public ControlDecision TryTake(string droneId, ClientPrincipal who, bool onSocket, bool explicitTake, out string? holder)
    {
        string? previous;
        bool endedFailsafe;
        lock (_gate)
        {
            var d = Get(droneId);
            _lastSeen[who.Identity] = _time.GetTimestamp();
            holder = d.Holder;
            if (d.Holder == who.Identity)
            {
                d.HolderOnSocket |= onSocket;
                return ControlDecision.AlreadyHeld;
            }

            if (d.Holder is not null && !(explicitTake && who.Role == ClientRole.Admin && d.HolderRole != ClientRole.Admin))
            {
                return ControlDecision.Denied;
            }

            previous = d.Holder;
            d.Holder = who.Identity;
            d.HolderRole = who.Role;
            d.HolderOnSocket = onSocket;
            d.HolderSince = _time.GetUtcNow();
            endedFailsafe = d.Hovering;
            d.Hovering = false;
            holder = who.Identity;
        }

        var reason = previous is null ? (explicitTake ? "take_control" : "first flight command") : "admin takeover";
        _logger.ControlChanged(droneId, previous ?? "(none)", who.Identity, reason);
        _hub.PublishEvent(droneId, "control_changed", ("holder", who.Identity), ("previous", previous), ("reason", reason));
        if (endedFailsafe)
        {
            _logger.FailsafeEnded(droneId, "a pilot took control");
            _hub.PublishEvent(droneId, "failsafe", ("action", "cancelled"), ("reason", "pilot took control"), ("pilot", who.Identity));
        }

        return ControlDecision.Granted;
    }

    public bool Release(string droneId, string identity, string reason)
    {
        lock (_gate)
        {
            var d = Get(droneId);
            if (d.Holder != identity)
            {
                return false;
            }

            d.Holder = null;
        }

        _logger.ControlChanged(droneId, identity, "(none)", reason);
        _hub.PublishEvent(droneId, "control_changed", ("holder", null), ("previous", identity), ("reason", reason));
        return true;
    }

    /// <summary>One failsafe pass; runs on the injected clock's timer and when a socket closes.</summary>
    public void Check()
    {
        try
        {
            _heartbeat?.Beat();
            if (!_options.Enabled)
            {
                return;
            }

            var silence = TimeSpan.FromSeconds(_options.PilotSilenceSeconds);
            var grace = TimeSpan.FromSeconds(_options.LandGraceSeconds);
            var actions = new List<(IDroneLink Link, string Action, string Identity, string Reason)>();
            lock (_gate)
            {
                foreach (var link in _fleet.Drones)
                {
                    if (!_drones.TryGetValue(link.Id, out var d))
                    {
                        continue;
                    }

                    var flying = link.Status.IsFlying;
                    if (d.Holder is { } holder)
                    {
                        string? gone = null;
                        if (d.HolderOnSocket && !_openSockets.ContainsKey(holder))
                        {
                            gone = "connection closed";
                        }
                        else if (_time.GetElapsedTime(_lastSeen.GetValueOrDefault(holder)) >= silence)
                        {
                            gone = $"silent for {_options.PilotSilenceSeconds:0.#} s";
                        }

                        if (gone is null)
                        {
                            continue;
                        }

                        d.Holder = null;
                        if (flying)
                        {
                            d.Hovering = true;
                            d.HoverSince = _time.GetTimestamp();
                            d.FormerHolder = holder;
                            actions.Add((link, "hover", holder, gone));
                        }
                        else
                        {
                            actions.Add((link, "release", holder, gone));
                        }
                    }
                    else if (d.Hovering)
                    {
                        if (!flying)
                        {
                            d.Hovering = false;
                            actions.Add((link, "ended", d.FormerHolder ?? "", "drone is on the ground"));
                        }
                        else if (_time.GetElapsedTime(d.HoverSince) >= grace)
                        {
                            d.Hovering = false;
                            actions.Add((link, "land", d.FormerHolder ?? "", "grace period over"));
                        }
                    }
                }

                PruneLastSeen(silence);
            }

            foreach (var (link, action, identity, reason) in actions)
            {
                Act(link, action, identity, reason);
            }
        }
        catch (Exception e)
        {
            _logger.FailsafeCheckFailed(e);
        }
    }

    private void Act(IDroneLink link, string action, string identity, string reason)
    {
        switch (action)
        {
            case "release":
                _logger.ControlChanged(link.Id, identity, "(none)", "pilot gone: " + reason);
                _hub.PublishEvent(link.Id, "control_changed", ("holder", null), ("previous", identity), ("reason", "pilot gone: " + reason));
                break;
            case "hover":
                _logger.FailsafeHover(link.Id, identity, reason, _options.LandGraceSeconds);
                _metrics.Failsafes.Add(1, new KeyValuePair<string, object?>("action", "hover"));
                _hub.PublishEvent(link.Id, "failsafe", ("action", "hover"), ("reason", "pilot gone: " + reason), ("pilot", identity),
                    ("land_in_s", _options.LandGraceSeconds));
                _ = SendAsync(link, TelloCommand.Stop, "stop");
                break;
            case "land":
                _logger.FailsafeLand(link.Id);
                _metrics.Failsafes.Add(1, new KeyValuePair<string, object?>("action", "land"));
                _hub.PublishEvent(link.Id, "failsafe", ("action", "land"), ("reason", "no pilot took control within the grace period"), ("pilot", identity));
                _ = SendAsync(link, TelloCommand.Land, "land");
                break;
            case "ended":
                _logger.FailsafeEnded(link.Id, reason);
                _hub.PublishEvent(link.Id, "failsafe", ("action", "cancelled"), ("reason", reason));
                break;
        }
    }

    private async Task SendAsync(IDroneLink link, TelloCommand command, string action)
    {
        try
        {
            var result = await link.ExecuteAsync(command, "local-api:failsafe").ConfigureAwait(false);
            if (!result.Success)
            {
                _logger.FailsafeCommandFailed(action, link.Id, result.Outcome.ToString(), result.Reply);
                _hub.PublishEvent(link.Id, "warning", ("message", $"failsafe {action} did not succeed: {result.Outcome} {result.Reply}"));
            }
        }
        catch (Exception e)
        {
            _logger.FailsafeCheckFailed(e);
        }
    }

    private DroneControl Get(string droneId)
    {
        if (!_drones.TryGetValue(droneId, out var d))
        {
            d = new DroneControl();
            _drones[droneId] = d;
        }

        return d;
    }

    // Called under the lock: identities that are neither connected, holding control nor recent are forgotten.
    private void PruneLastSeen(TimeSpan silence)
    {
        if (_lastSeen.Count < 1024)
        {
            return;
        }

        foreach (var (identity, seen) in _lastSeen.ToList())
        {
            if (!_openSockets.ContainsKey(identity) && _time.GetElapsedTime(seen) > silence * 2
                && !_drones.Values.Any(d => d.Holder == identity))
            {
                _lastSeen.Remove(identity);
            }
        }
    }

    public void Dispose()
    {
        _timer?.Dispose();
        if (_heartbeat is not null)
        {
            // The registry outlives us; a disposed API must not hold the watchdog hostage.
            _heartbeats?.Unregister(_heartbeat);
        }
    }
}
