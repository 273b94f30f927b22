using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EdgeGateway.Simulator;

/// <summary>What the command line asked for: run N drones with these options, or show help.</summary>
public sealed record SimulatorRunOptions(int DroneCount, TelloSimulatorOptions Drone, bool Verbose);

/// <summary>Either options, a request for help, or one clear error message.</summary>
public sealed record SimulatorCommandLineResult(SimulatorRunOptions? Options, bool ShowHelp, string? Error)
{
    public bool IsError => Error is not null;
}

/// <summary>Parses the standalone simulator's arguments (<c>--name value</c> or <c>--name=value</c>).</summary>
public static class SimulatorCommandLine
{
    public const string Usage = """
        Tello simulator: one or more simulated Tello drones speaking the text SDK over UDP.

        Usage: EdgeGateway.Simulator [options]

          --drones N              number of drones, 1..100 (default 1), on consecutive addresses
          --address IP            IPv4 address of the first drone (default 127.0.0.2)
          --command-port PORT     command port of every drone, 0..65535 (default 8889)
          --state-port PORT       port state is sent to on the commander, 1..65535 (default 8890)
          --format F              state format: 1.3, 2.0 or 3.0 (default 2.0)
          --time-scale X          speed-up factor above 0 for latencies, moves, auto-land, battery (default 1)
          --seed N                seed of the fault generator (drone i uses N+i); default random
          --drop-command P        probability 0..1 that a command is lost
          --drop-reply P          probability 0..1 that a reply is lost (the command executes)
          --late-reply P          probability 0..1 that a reply comes 10 s late
          --duplicate-reply P     probability 0..1 that a reply is sent twice
          --garbage P             probability 0..1 of a binary datagram after a reply
          --corrupt-state P       probability 0..1 that a state datagram is corrupt
          --not-joystick P        probability 0..1 that a move is refused with "error Not joystick"
          --no-valid-imu P        probability 0..1 that a move or takeoff is refused with "error No valid imu"
          --takeoff-error P       probability 0..1 that takeoff replies "error" but the drone flies
          --reboot P              probability 0..1 per command (in SDK mode) that the drone reboots instead
          --state-pause P         probability 0..1 per second that the state stream pauses (commands still answered)
          --state-pause-min S     shortest state pause in seconds, above 0 (default 2)
          --state-pause-max S     longest state pause in seconds, at least the minimum (default 8)
          --uppercase-ok          reply "OK" instead of "ok"
          --pad-replies           append "\r\n" (every other time also a NUL) to replies
          --old-firmware          unknown commands reply "Unkown Command!"
          --busy B                command during a move: queue, error, not-joystick or drop (default error)
          --error-before-sdk      reply "error" before "command" (default: stay silent)
          --verbose               log every command and reply
          --help, -h              show this help

        Stop with Ctrl+C or SIGTERM.
        """;

    public static SimulatorCommandLineResult Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var drone = new TelloSimulatorOptions();
        var count = 1;
        var verbose = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--help" or "-h" or "-?")
            {
                return new SimulatorCommandLineResult(null, true, null);
            }

            string name;
            string? inlineValue = null;
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (arg.StartsWith("--", StringComparison.Ordinal) && eq > 2)
            {
                name = arg[..eq];
                inlineValue = arg[(eq + 1)..];
            }
            else
            {
                name = arg;
            }

            switch (name)
            {
                case "--error-before-sdk":
                    drone.ErrorBeforeSdkMode = true;
                    continue;
                case "--verbose":
                    verbose = true;
                    continue;
                case "--uppercase-ok":
                    drone.Faults.UppercaseOk = true;
                    continue;
                case "--pad-replies":
                    drone.Faults.PadReplies = true;
                    continue;
                case "--old-firmware":
                    drone.Faults.OldFirmwareUnknownCommand = true;
                    continue;
            }

            if (!IsValued(name))
            {
                return Fail(arg.StartsWith('-') ? $"unknown option {name}" : $"unexpected argument \"{arg}\"");
            }

            string value;
            if (inlineValue is not null)
            {
                value = inlineValue;
            }
            else if (i + 1 < args.Count)
            {
                value = args[++i];
            }
            else
            {
                return Fail($"{name} needs a value");
            }

            var error = Apply(name, value, drone, ref count);
            if (error is not null)
            {
                return Fail(error);
            }
        }

        if (count > 1)
        {
            var last = drone.Address.GetAddressBytes()[3] + count - 1;
            if (last > 254)
            {
                return Fail($"--drones {count} from --address {drone.Address} would run past .254 (last drone at .{last})");
            }
        }

        if (drone.Faults.StatePauseMax < drone.Faults.StatePauseMin)
        {
            return Fail($"--state-pause-max ({drone.Faults.StatePauseMax.TotalSeconds} s) must be at least --state-pause-min ({drone.Faults.StatePauseMin.TotalSeconds} s)");
        }

        return new SimulatorCommandLineResult(new SimulatorRunOptions(count, drone, verbose), false, null);
    }

    private static bool IsValued(string name) => name is "--drones" or "--address" or "--command-port" or "--state-port" or "--format"
        or "--time-scale" or "--seed" or "--drop-command" or "--drop-reply" or "--late-reply" or "--duplicate-reply"
        or "--garbage" or "--corrupt-state" or "--busy" or "--not-joystick" or "--no-valid-imu" or "--takeoff-error"
        or "--reboot" or "--state-pause" or "--state-pause-min" or "--state-pause-max";

    private static string? Apply(string name, string value, TelloSimulatorOptions o, ref int count)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (name)
        {
            case "--drones":
                if (!int.TryParse(value, NumberStyles.None, inv, out count) || count is < 1 or > 100)
                {
                    return $"--drones must be a whole number 1..100 (got \"{value}\")";
                }

                return null;
            case "--address":
                if (!IPAddress.TryParse(value, out var address) || address.AddressFamily != AddressFamily.InterNetwork
                    || value.Count(c => c == '.') != 3)
                {
                    return $"--address must be an IPv4 address such as 127.0.0.2 (got \"{value}\")";
                }

                o.Address = address;
                return null;
            case "--command-port":
                if (!int.TryParse(value, NumberStyles.None, inv, out var commandPort) || commandPort > 65535)
                {
                    return $"--command-port must be 0..65535 (got \"{value}\")";
                }

                o.CommandPort = commandPort;
                return null;
            case "--state-port":
                if (!int.TryParse(value, NumberStyles.None, inv, out var statePort) || statePort is < 1 or > 65535)
                {
                    return $"--state-port must be 1..65535 (got \"{value}\")";
                }

                o.StatePort = statePort;
                return null;
            case "--format":
                TelloSdkFormat? format = value switch
                {
                    "1.3" => TelloSdkFormat.Sdk13,
                    "2.0" => TelloSdkFormat.Sdk20,
                    "3.0" => TelloSdkFormat.Sdk30,
                    _ => null,
                };
                if (format is null)
                {
                    return $"--format must be 1.3, 2.0 or 3.0 (got \"{value}\")";
                }

                o.Format = format.Value;
                return null;
            case "--time-scale":
                if (!double.TryParse(value, NumberStyles.Float, inv, out var scale) || !double.IsFinite(scale) || scale <= 0)
                {
                    return $"--time-scale must be a number above 0, e.g. 10 (got \"{value}\")";
                }

                o.TimeScale = scale;
                return null;
            case "--seed":
                if (!int.TryParse(value, NumberStyles.AllowLeadingSign, inv, out var seed))
                {
                    return $"--seed must be a whole number (got \"{value}\")";
                }

                o.Faults.Seed = seed;
                return null;
            case "--busy":
                BusyBehaviour? busy = value switch
                {
                    "queue" => BusyBehaviour.Queue,
                    "error" => BusyBehaviour.Error,
                    "not-joystick" => BusyBehaviour.NotJoystick,
                    "drop" => BusyBehaviour.Drop,
                    _ => null,
                };
                if (busy is null)
                {
                    return $"--busy must be queue, error, not-joystick or drop (got \"{value}\")";
                }

                o.WhileBusy = busy.Value;
                return null;
            case "--state-pause-min" or "--state-pause-max":
                if (!double.TryParse(value, NumberStyles.Float, inv, out var seconds) || !double.IsFinite(seconds) || seconds <= 0
                    || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
                {
                    return $"{name} must be a number of seconds above 0, e.g. 3 (got \"{value}\")";
                }

                if (name == "--state-pause-min")
                {
                    o.Faults.StatePauseMin = TimeSpan.FromSeconds(seconds);
                }
                else
                {
                    o.Faults.StatePauseMax = TimeSpan.FromSeconds(seconds);
                }

                return null;
        }

        if (!double.TryParse(value, NumberStyles.Float, inv, out var p) || double.IsNaN(p) || p < 0 || p > 1)
        {
            return $"{name} must be a probability between 0 and 1 (got \"{value}\")";
        }

        switch (name)
        {
            case "--drop-command":
                o.Faults.DropCommand = p;
                break;
            case "--drop-reply":
                o.Faults.DropReply = p;
                break;
            case "--late-reply":
                o.Faults.LateReply = p;
                break;
            case "--duplicate-reply":
                o.Faults.DuplicateReply = p;
                break;
            case "--garbage":
                o.Faults.GarbageDatagram = p;
                break;
            case "--not-joystick":
                o.Faults.NotJoystick = p;
                break;
            case "--no-valid-imu":
                o.Faults.NoValidImu = p;
                break;
            case "--takeoff-error":
                o.Faults.TakeoffErrorButFlies = p;
                break;
            case "--reboot":
                o.Faults.Reboot = p;
                break;
            case "--state-pause":
                o.Faults.StatePause = p;
                break;
            default:
                o.Faults.CorruptState = p;
                break;
        }

        return null;
    }

    private static SimulatorCommandLineResult Fail(string message) => new(null, false, message);
}
