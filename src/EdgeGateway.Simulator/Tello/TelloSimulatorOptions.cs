using System.Net;

namespace EdgeGateway.Simulator;

/// <summary>The state datagram format the simulated drone sends (SDK 1.3, 2.0 or 3.0).</summary>
public enum TelloSdkFormat
{
    Sdk13,
    Sdk20,
    Sdk30,
}

/// <summary>What the simulated drone does with a command that arrives while a move is running.</summary>
public enum BusyBehaviour
{
    /// <summary>Run it after the current move.</summary>
    Queue,
    /// <summary>Reply <c>error</c> at once.</summary>
    Error,
    /// <summary>Reply <c>error Not joystick</c> at once.</summary>
    NotJoystick,
    /// <summary>Ignore it: no execution, no reply.</summary>
    Drop,
}

/// <summary>Seeded, per-drone fault probabilities (each 0..1).</summary>
public sealed class TelloFaultOptions
{
    /// <summary>Seed of the fault generator; null picks a random seed (logged, so a run can be repeated).</summary>
    public int? Seed { get; set; }

    /// <summary>The command is lost: no execution, no reply.</summary>
    public double DropCommand { get; set; }

    /// <summary>The command executes but its reply is lost.</summary>
    public double DropReply { get; set; }

    /// <summary>The reply is held back by <see cref="LateReplyDelay"/>.</summary>
    public double LateReply { get; set; }

    /// <summary>How long a late reply is held back. Real time: not divided by the time scale.</summary>
    public TimeSpan LateReplyDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The reply is sent twice.</summary>
    public double DuplicateReply { get; set; }

    /// <summary>A binary datagram follows the reply on the command channel.</summary>
    public double GarbageDatagram { get; set; }

    /// <summary>A truncated or corrupt state datagram replaces a good one.</summary>
    public double CorruptState { get; set; }

    /// <summary>A move (not land) is refused with <c>error Not joystick</c> and not executed (cause unknown on real drones).</summary>
    public double NotJoystick { get; set; }

    /// <summary>A move or takeoff (not land) is refused with <c>error No valid imu</c> (poor light, uncalibrated IMU).</summary>
    public double NoValidImu { get; set; }

    /// <summary><c>takeoff</c> replies <c>error</c> although the drone takes off anyway.</summary>
    public double TakeoffErrorButFlies { get; set; }

    /// <summary>
    /// Per command heard in SDK mode: the drone reboots at that moment instead of executing it (no reply, lands if airborne,
    /// silent for <see cref="TelloSimulatorOptions.RebootDuration"/> drone time, then needs <c>command</c> again).
    /// Drawn from its own seeded stream, so enabling it leaves the other faults' sequence unchanged.
    /// </summary>
    public double Reboot { get; set; }

    /// <summary>
    /// Per second of real time while in SDK mode: the state stream stops for a random time between
    /// <see cref="StatePauseMin"/> and <see cref="StatePauseMax"/> (commands are still answered), as a gateway sees a
    /// Wi-Fi fade. Drawn on each state tick from the state fault stream.
    /// </summary>
    public double StatePause { get; set; }

    /// <summary>Shortest injected state pause. Real time: not divided by the time scale.</summary>
    public TimeSpan StatePauseMin { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Longest injected state pause. Real time: not divided by the time scale.</summary>
    public TimeSpan StatePauseMax { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>Unknown commands get the old firmware's <c>Unkown Command!</c> instead of <c>unknown command: x</c>.</summary>
    public bool OldFirmwareUnknownCommand { get; set; }

    /// <summary>Reply <c>OK</c> instead of <c>ok</c> (older firmware).</summary>
    public bool UppercaseOk { get; set; }

    /// <summary>Append <c>\r\n</c> (and every other reply a NUL) to replies.</summary>
    public bool PadReplies { get; set; }

    public TelloFaultOptions Clone() => (TelloFaultOptions)MemberwiseClone();

    internal IEnumerable<string> Validate(string prefix)
    {
        foreach (var (name, value) in new[]
                 {
                     (nameof(DropCommand), DropCommand), (nameof(DropReply), DropReply), (nameof(LateReply), LateReply),
                     (nameof(DuplicateReply), DuplicateReply), (nameof(GarbageDatagram), GarbageDatagram),
                     (nameof(CorruptState), CorruptState), (nameof(NotJoystick), NotJoystick), (nameof(NoValidImu), NoValidImu),
                     (nameof(TakeoffErrorButFlies), TakeoffErrorButFlies), (nameof(Reboot), Reboot), (nameof(StatePause), StatePause),
                 })
        {
            if (double.IsNaN(value) || value < 0 || value > 1)
            {
                yield return $"{prefix}{name}: must be a probability between 0 and 1 (got {value})";
            }
        }

        if (LateReplyDelay < TimeSpan.Zero)
        {
            yield return $"{prefix}{nameof(LateReplyDelay)}: must not be negative (got {LateReplyDelay})";
        }

        if (StatePauseMin <= TimeSpan.Zero)
        {
            yield return $"{prefix}{nameof(StatePauseMin)}: must be above 0 (got {StatePauseMin})";
        }

        if (StatePauseMax < StatePauseMin)
        {
            yield return $"{prefix}{nameof(StatePauseMax)}: must be at least {nameof(StatePauseMin)} ({StatePauseMin}) (got {StatePauseMax})";
        }
    }
}

/// <summary>Settings of one simulated Tello.</summary>
public sealed class TelloSimulatorOptions
{
    public IPAddress Address { get; set; } = IPAddress.Parse("127.0.0.2");

    /// <summary>Port the drone listens on; 0 = ephemeral (tests).</summary>
    public int CommandPort { get; set; } = 8889;

    /// <summary>Port state is sent to, on the IP that sent <c>command</c> (SDK 3.0 <c>port</c> changes it).</summary>
    public int StatePort { get; set; } = 8890;

    public TelloSdkFormat Format { get; set; } = TelloSdkFormat.Sdk20;

    /// <summary>14 characters; give every instance its own.</summary>
    public string SerialNumber { get; set; } = "0TQDG7BEDB0E9P";

    /// <summary>10 = ten times faster: latencies, move durations, auto-land, battery drain, reboot silence of wifi/ap/reboot.</summary>
    public double TimeScale { get; set; } = 1.0;

    /// <summary>State period. Real time: not divided by the time scale (10 Hz).</summary>
    public TimeSpan StateInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>false: silent before <c>command</c>; true: reply <c>error</c> (a drone that was never activated).</summary>
    public bool ErrorBeforeSdkMode { get; set; }

    public BusyBehaviour WhileBusy { get; set; } = BusyBehaviour.Error;

    public int InitialBattery { get; set; } = 100;

    /// <summary><c>takeoff</c> below this battery level replies <c>error</c>.</summary>
    public int MinTakeoffBattery { get; set; } = 10;

    /// <summary>In flight at or below this battery level the drone lands by itself (moves reply <c>error Auto land</c>).</summary>
    public int AutoLandBattery { get; set; } = 5;

    /// <summary><c>flip</c> below this battery level replies <c>error</c> (community reports; unverified).</summary>
    public int MinFlipBattery { get; set; } = 50;

    /// <summary>Idle time in the air after which the drone lands by itself (drone time). 15 s on real drones; Infinite disables.</summary>
    public TimeSpan AutoLandTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Silence after <c>reboot</c>, <c>wifi</c> or <c>ap</c> (drone time: divided by the time scale).</summary>
    public TimeSpan RebootDuration { get; set; } = TimeSpan.FromSeconds(5);

    public TelloFaultOptions Faults { get; set; } = new();

    /// <summary>A deep copy (the fault options too), e.g. to derive the options of the next drone in a fleet.</summary>
    public TelloSimulatorOptions Clone()
    {
        var copy = (TelloSimulatorOptions)MemberwiseClone();
        copy.Faults = Faults.Clone();
        return copy;
    }

    /// <summary>One message per problem, each naming the key (prefixed with <paramref name="prefix"/>) and the allowed values.</summary>
    public IReadOnlyList<string> Validate(string prefix = "")
    {
        var errors = new List<string>();
        if (CommandPort is < 0 or > 65535)
        {
            errors.Add($"{prefix}{nameof(CommandPort)}: must be 0..65535 (got {CommandPort})");
        }

        if (StatePort is < 1 or > 65535)
        {
            errors.Add($"{prefix}{nameof(StatePort)}: must be 1..65535 (got {StatePort})");
        }

        if (SerialNumber.Length == 0 || SerialNumber.Any(char.IsWhiteSpace))
        {
            errors.Add($"{prefix}{nameof(SerialNumber)}: must be non-empty without spaces (got \"{SerialNumber}\")");
        }

        if (double.IsNaN(TimeScale) || TimeScale <= 0 || double.IsInfinity(TimeScale))
        {
            errors.Add($"{prefix}{nameof(TimeScale)}: must be a number above 0 (got {TimeScale})");
        }

        if (StateInterval <= TimeSpan.Zero)
        {
            errors.Add($"{prefix}{nameof(StateInterval)}: must be above 0 (got {StateInterval})");
        }

        if (InitialBattery is < 0 or > 100)
        {
            errors.Add($"{prefix}{nameof(InitialBattery)}: must be 0..100 (got {InitialBattery})");
        }

        if (AutoLandTimeout <= TimeSpan.Zero && AutoLandTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"{prefix}{nameof(AutoLandTimeout)}: must be above 0, or infinite to disable (got {AutoLandTimeout})");
        }

        if (RebootDuration < TimeSpan.Zero)
        {
            errors.Add($"{prefix}{nameof(RebootDuration)}: must not be negative (got {RebootDuration})");
        }

        errors.AddRange(Faults.Validate($"{prefix}{nameof(Faults)}:"));
        return errors;
    }
}

/// <summary>What the simulated drone is doing, for tests and for followers such as a GPS simulator.</summary>
/// <param name="XCm">Centimetres from the power-on point, forward/north at yaw 0.</param>
/// <param name="YCm">Centimetres from the power-on point, right/east at yaw 0.</param>
/// <param name="LastLandingReason">"land", "auto-land", "emergency", "battery" or "reboot"; null before the first landing.</param>
public sealed record TelloSimulatorSnapshot(bool InSdkMode, bool IsFlying, bool IsMoving, int HeightCm,
    int Battery, int YawDeg, double XCm, double YCm,
    int FlightTimeS, string? LastLandingReason,
    int CommandsReceived, int StateDatagramsSent, bool StatePaused, bool Rebooting);
