using System.Globalization;

namespace EdgeGateway.Drones.Tello;

/// <summary>
/// Folds <c>rc</c> datagrams into stick sessions for the command audit. A joystick sends rc at 20-50 Hz; one
/// synchronous=FULL audit record per datagram would fsync the SD card for nearly every buffer commit and push out
/// telemetry. A session gets two records instead: a start at the first non-zero rc, and an end (count, max stick
/// values) at an all-zero rc, after <see cref="IdleEnd"/> without rc, at another command, a change of origin, or shutdown.
/// </summary>
internal sealed class RcStickSession(TimeProvider time, Action<RcSessionRecord> write)
{
    /// <summary>No rc for this long ends the session.</summary>
    public static readonly TimeSpan IdleEnd = TimeSpan.FromSeconds(1);

    // Records are written under the lock so a session's start always precedes its end.
    private readonly Lock _gate = new();
    private Open? _open;

    /// <summary>One rc datagram, sent (left the socket) or refused.</summary>
    public void OnRc(TelloCommand rc, bool sent, string? origin, DateTimeOffset wallNow)
    {
        var sticks = Parse(rc.Text);
        var zero = sticks.All(v => v == 0);
        lock (_gate)
        {
            var now = time.GetTimestamp();
            if (_open is not null && time.GetElapsedTime(_open.LastTs, now) >= IdleEnd)
            {
                End(RcSessionEnd.Idle);
            }

            if (_open is not null && !string.Equals(_open.Origin, origin, StringComparison.Ordinal))
            {
                End(RcSessionEnd.OriginChanged);
            }

            if (_open is null)
            {
                if (zero)
                {
                    // Centred sticks outside a session move nothing: counted in the metrics, not audited.
                    return;
                }

                _open = new Open(Guid.CreateVersion7().ToString("N"), origin, wallNow, now);
                _open.Add(rc.Text, sticks, sent, now);
                write(_open.Snapshot(RcSessionPhase.Start, null, time));
                return;
            }

            _open.Add(rc.Text, sticks, sent, now);
            if (zero)
            {
                End(RcSessionEnd.Zero);
            }
        }
    }

    /// <summary>Another audited command: the session ends before that command's records.</summary>
    public void OnOtherCommand() => EndIfOpen(RcSessionEnd.Command);

    /// <summary>Periodic (the supervisor tick): ends a session that has been without rc for <see cref="IdleEnd"/>.</summary>
    public void OnTick()
    {
        lock (_gate)
        {
            if (_open is not null && time.GetElapsedTime(_open.LastTs) >= IdleEnd)
            {
                End(RcSessionEnd.Idle);
            }
        }
    }

    public void Close() => EndIfOpen(RcSessionEnd.Shutdown);

    private void EndIfOpen(RcSessionEnd reason)
    {
        lock (_gate)
        {
            if (_open is not null)
            {
                End(reason);
            }
        }
    }

    private void End(RcSessionEnd reason)
    {
        var open = _open!;
        _open = null;
        write(open.Snapshot(RcSessionPhase.End, reason, time));
    }

    /// <summary>"rc a b c d" as built by <see cref="TelloCommand.TryRc"/>; anything else counts as centred.</summary>
    private static int[] Parse(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = new int[4];
        for (var i = 0; i < 4 && i + 1 < parts.Length; i++)
        {
            values[i] = int.TryParse(parts[i + 1], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v) ? v : 0;
        }

        return values;
    }

    private sealed class Open(string id, string? origin, DateTimeOffset startedAt, long startTs)
    {
        private readonly int[] _maxAbs = new int[4];
        private readonly long _startTs = startTs;
        private string _last = "";
        private int _count;
        private int _sent;

        public string? Origin { get; } = origin;

        public long LastTs { get; private set; } = startTs;

        public void Add(string text, int[] sticks, bool sent, long now)
        {
            _last = text;
            _count++;
            if (sent)
            {
                _sent++;
            }

            for (var i = 0; i < 4; i++)
            {
                _maxAbs[i] = Math.Max(_maxAbs[i], Math.Abs(sticks[i]));
            }

            LastTs = now;
        }

        public RcSessionRecord Snapshot(RcSessionPhase phase, RcSessionEnd? end, TimeProvider time) =>
            new(phase, id, Origin, startedAt, _last, _count, _sent, [.. _maxAbs], end, time.GetElapsedTime(_startTs, LastTs));
    }
}

internal enum RcSessionPhase { Start, End }

internal enum RcSessionEnd { Zero, Idle, Command, OriginChanged, Shutdown }

/// <summary>
/// One stick-session audit record. <see cref="Command"/> is the latest rc text (the first one for a start);
/// <see cref="MaxAbs"/> is the largest absolute roll, pitch, throttle, yaw so far; <see cref="Duration"/> runs
/// from the first to the latest rc.
/// </summary>
internal sealed record RcSessionRecord(
    RcSessionPhase Phase, string Id, string? Origin, DateTimeOffset StartedAt, string Command, int Count, int Sent,
    int[] MaxAbs, RcSessionEnd? EndedBy, TimeSpan Duration);
