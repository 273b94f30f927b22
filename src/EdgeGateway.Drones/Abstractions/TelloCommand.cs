using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace EdgeGateway.Drones;

/// <summary>How the link treats a command: queueing, timeout and the reply it expects.</summary>
public enum TelloCommandKind
{
    /// <summary><c>command</c>: enter SDK mode. Safe to retry.</summary>
    EnterSdk,
    Takeoff,
    Land,
    /// <summary>Bypasses the queue; usually no reply.</summary>
    Emergency,
    /// <summary>Bypasses the queue; the move it interrupts resolves as <c>forced stop</c>.</summary>
    Stop,
    /// <summary>up/down/left/right/forward/back, cw/ccw, flip, go, curve: never retried.</summary>
    Motion,
    /// <summary>A read (<c>battery?</c> …): expects a value, safe to retry.</summary>
    Read,
    /// <summary>A setting (<c>speed x</c>, <c>mon</c> …): expects ok/error.</summary>
    Set,
    /// <summary><c>keepalive</c> while airborne and idle.</summary>
    Keepalive,
    /// <summary><c>rc a b c d</c>: no reply, never queued, never pending.</summary>
    Rc,
}

public enum MoveDirection { Up, Down, Left, Right, Forward, Back }

public enum TelloRead { Battery, Speed, Time, Height, Temperature, Attitude, Barometer, Acceleration, Tof, Wifi, Sdk, SerialNumber }

/// <summary>
/// One text-SDK command, already validated against the SDK ranges. Build it through the
/// factories: out-of-range values are refused with a message, never clamped.
/// </summary>
public sealed class TelloCommand
{
    /// <summary>SDK ranges (Tello SDK 2.0).</summary>
    public const int MinMoveCm = 20, MaxMoveCm = 500, MinRotateDeg = 1, MaxRotateDeg = 360,
        MinSpeed = 10, MaxSpeed = 100, MaxGoCoord = 500, MaxRc = 100;

    private TelloCommand(string text, TelloCommandKind kind, TimeSpan expectedDuration = default, TelloRead? read = null)
    {
        Text = text;
        Kind = kind;
        ExpectedDuration = expectedDuration;
        Read = read;
    }

    /// <summary>The exact ASCII text sent in the datagram.</summary>
    public string Text { get; }

    public TelloCommandKind Kind { get; }

    /// <summary>For motion: how long the move itself should take at the default speed (the link adds a margin).</summary>
    public TimeSpan ExpectedDuration { get; }

    /// <summary>For reads: which value is asked for.</summary>
    public TelloRead? Read { get; }

    /// <summary>True when a reply is expected (everything but rc and emergency).</summary>
    public bool ExpectsReply => Kind is not (TelloCommandKind.Rc or TelloCommandKind.Emergency);

    /// <summary>True when the command goes out at once, ahead of the queue.</summary>
    public bool BypassesQueue => Kind is TelloCommandKind.Emergency or TelloCommandKind.Stop or TelloCommandKind.Rc;

    /// <summary>True when it may be sent again after a timeout (it cannot move the drone).</summary>
    public bool IsRetryable => Kind is TelloCommandKind.EnterSdk or TelloCommandKind.Read;

    public override string ToString() => Text;

    public static TelloCommand EnterSdk { get; } = new("command", TelloCommandKind.EnterSdk);
    public static TelloCommand Takeoff { get; } = new("takeoff", TelloCommandKind.Takeoff);
    public static TelloCommand Land { get; } = new("land", TelloCommandKind.Land);
    public static TelloCommand Emergency { get; } = new("emergency", TelloCommandKind.Emergency);
    public static TelloCommand Stop { get; } = new("stop", TelloCommandKind.Stop);
    public static TelloCommand Keepalive { get; } = new("keepalive", TelloCommandKind.Keepalive);

    /// <summary>Default horizontal speed the SDK assumes for moves, cm/s.</summary>
    private const double DefaultSpeedCmPerS = 100;

    public static bool TryMove(MoveDirection direction, int distanceCm,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (!InRange(distanceCm, MinMoveCm, MaxMoveCm, "distance", "cm", out error))
        {
            return false;
        }

        var verb = direction switch
        {
            MoveDirection.Up => "up",
            MoveDirection.Down => "down",
            MoveDirection.Left => "left",
            MoveDirection.Right => "right",
            MoveDirection.Forward => "forward",
            MoveDirection.Back => "back",
            _ => throw new ArgumentOutOfRangeException(nameof(direction)),
        };
        command = new TelloCommand(Invariant($"{verb} {distanceCm}"), TelloCommandKind.Motion,
            TimeSpan.FromSeconds(distanceCm / DefaultSpeedCmPerS));
        return true;
    }

    public static bool TryRotate(bool clockwise, int degrees,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (!InRange(degrees, MinRotateDeg, MaxRotateDeg, "degrees", "°", out error))
        {
            return false;
        }

        // Tello yaws at roughly 100°/s.
        command = new TelloCommand(Invariant($"{(clockwise ? "cw" : "ccw")} {degrees}"), TelloCommandKind.Motion,
            TimeSpan.FromSeconds(degrees / 100.0));
        return true;
    }

    public static bool TryFlip(char direction,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (direction is not ('l' or 'r' or 'f' or 'b'))
        {
            error = $"flip direction must be one of l, r, f, b; got '{direction}'";
            return false;
        }

        error = null;
        command = new TelloCommand($"flip {direction}", TelloCommandKind.Motion, TimeSpan.FromSeconds(1.5));
        return true;
    }

    public static bool TryGo(int x, int y, int z, int speed,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (!InRange(x, -MaxGoCoord, MaxGoCoord, "x", "cm", out error)
            || !InRange(y, -MaxGoCoord, MaxGoCoord, "y", "cm", out error)
            || !InRange(z, -MaxGoCoord, MaxGoCoord, "z", "cm", out error)
            || !InRange(speed, MinSpeed, MaxSpeed, "speed", "cm/s", out error))
        {
            return false;
        }

        if (Math.Abs(x) <= 20 && Math.Abs(y) <= 20 && Math.Abs(z) <= 20)
        {
            error = "x, y and z may not all lie within -20..20 cm";
            return false;
        }

        var distance = Math.Sqrt((double)x * x + (double)y * y + (double)z * z);
        command = new TelloCommand(Invariant($"go {x} {y} {z} {speed}"), TelloCommandKind.Motion,
            TimeSpan.FromSeconds(distance / speed));
        return true;
    }

    public static bool TrySpeed(int speed,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (!InRange(speed, MinSpeed, MaxSpeed, "speed", "cm/s", out error))
        {
            return false;
        }

        command = new TelloCommand(Invariant($"speed {speed}"), TelloCommandKind.Set);
        return true;
    }

    public static bool TryRc(int roll, int pitch, int throttle, int yaw,
        [NotNullWhen(true)] out TelloCommand? command, [NotNullWhen(false)] out string? error)
    {
        command = null;
        if (!InRange(roll, -MaxRc, MaxRc, "roll", "", out error)
            || !InRange(pitch, -MaxRc, MaxRc, "pitch", "", out error)
            || !InRange(throttle, -MaxRc, MaxRc, "throttle", "", out error)
            || !InRange(yaw, -MaxRc, MaxRc, "yaw", "", out error))
        {
            return false;
        }

        command = new TelloCommand(Invariant($"rc {roll} {pitch} {throttle} {yaw}"), TelloCommandKind.Rc);
        return true;
    }

    public static TelloCommand ReadOf(TelloRead read) => new(read switch
    {
        TelloRead.Battery => "battery?",
        TelloRead.Speed => "speed?",
        TelloRead.Time => "time?",
        TelloRead.Height => "height?",
        TelloRead.Temperature => "temp?",
        TelloRead.Attitude => "attitude?",
        TelloRead.Barometer => "baro?",
        TelloRead.Acceleration => "acceleration?",
        TelloRead.Tof => "tof?",
        TelloRead.Wifi => "wifi?",
        TelloRead.Sdk => "sdk?",
        TelloRead.SerialNumber => "sn?",
        _ => throw new ArgumentOutOfRangeException(nameof(read)),
    }, TelloCommandKind.Read, read: read);

    private static bool InRange(int value, int min, int max, string name, string unit, [NotNullWhen(false)] out string? error)
    {
        if (value < min || value > max)
        {
            error = Invariant($"{name} must be between {min} and {max}{(unit.Length > 0 ? " " + unit : "")}; got {value}");
            return false;
        }

        error = null;
        return true;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
