using System.Globalization;
using System.Text.Json;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Auth;

namespace EdgeGateway.LocalApi.Commands;

internal enum ActionKind
{
    /// <summary>Sends a command that moves the drone: needs a pilot holding control.</summary>
    Flight,
    /// <summary>Emergency motor stop: any pilot, any time, no control check.</summary>
    Emergency,
    /// <summary>A read from the drone: observers may.</summary>
    Read,
    /// <summary>The status object, no drone traffic.</summary>
    Status,
    TakeControl,
    ReleaseControl,
}

/// <summary>A parsed, validated action ready to run.</summary>
internal sealed record ParsedAction(string Name, ActionKind Kind, ClientRole Requires, TelloCommand? Command);

/// <summary>
/// The action vocabulary of <c>POST /api/drone/execute</c> and the WebSocket <c>command</c>.
/// Parameters outside the SDK ranges are refused through <see cref="TelloCommand"/>'s factories, never clamped.
/// </summary>
internal static class DroneActions
{
    public static readonly IReadOnlyList<string> Names =
    [
        "takeoff", "land", "emergency", "stop",
        "move_up", "move_down", "move_left", "move_right", "move_forward", "move_back",
        "rotate_clockwise", "rotate_counter_clockwise", "flip", "go", "set_speed",
        "get_battery", "get_temperature", "get_height", "get_speed", "get_flight_time", "get_attitude",
        "get_barometer", "get_acceleration", "get_tof", "get_status",
        "take_control", "release_control",
    ];

    /// <summary>Strips the <c>drone_</c> alias prefix and lower-cases.</summary>
    public static string Normalize(string action)
    {
        var a = action.Trim().ToLowerInvariant();
        return a.StartsWith("drone_", StringComparison.Ordinal) ? a["drone_".Length..] : a;
    }

    /// <summary>Which role an action needs, or null when the action is unknown.</summary>
    public static (ActionKind Kind, ClientRole Role)? Classify(string name) => name switch
    {
        "emergency" => (ActionKind.Emergency, ClientRole.Pilot),
        "takeoff" or "land" or "stop" or "flip" or "go" or "set_speed"
            or "move_up" or "move_down" or "move_left" or "move_right" or "move_forward" or "move_back"
            or "rotate_clockwise" or "rotate_counter_clockwise" => (ActionKind.Flight, ClientRole.Pilot),
        "get_battery" or "get_temperature" or "get_height" or "get_speed" or "get_flight_time" or "get_attitude"
            or "get_barometer" or "get_acceleration" or "get_tof" => (ActionKind.Read, ClientRole.Observer),
        "get_status" => (ActionKind.Status, ClientRole.Observer),
        "take_control" => (ActionKind.TakeControl, ClientRole.Pilot),
        "release_control" => (ActionKind.ReleaseControl, ClientRole.Pilot),
        _ => null,
    };

    /// <summary>Builds the command. On failure <paramref name="code"/> is invalid_parameter or out_of_range.</summary>
    public static TelloCommand? BuildCommand(string name, JsonElement parameters, out string? code, out string? error)
    {
        code = null;
        error = null;
        TelloCommand? command;
        switch (name)
        {
            case "takeoff": return TelloCommand.Takeoff;
            case "land": return TelloCommand.Land;
            case "emergency": return TelloCommand.Emergency;
            case "stop": return TelloCommand.Stop;
            case "get_battery": return TelloCommand.ReadOf(TelloRead.Battery);
            case "get_temperature": return TelloCommand.ReadOf(TelloRead.Temperature);
            case "get_height": return TelloCommand.ReadOf(TelloRead.Height);
            case "get_speed": return TelloCommand.ReadOf(TelloRead.Speed);
            case "get_flight_time": return TelloCommand.ReadOf(TelloRead.Time);
            case "get_attitude": return TelloCommand.ReadOf(TelloRead.Attitude);
            case "get_barometer": return TelloCommand.ReadOf(TelloRead.Barometer);
            case "get_acceleration": return TelloCommand.ReadOf(TelloRead.Acceleration);
            case "get_tof": return TelloCommand.ReadOf(TelloRead.Tof);
        }

        if (name.StartsWith("move_", StringComparison.Ordinal))
        {
            var direction = name switch
            {
                "move_up" => MoveDirection.Up,
                "move_down" => MoveDirection.Down,
                "move_left" => MoveDirection.Left,
                "move_right" => MoveDirection.Right,
                "move_forward" => MoveDirection.Forward,
                _ => MoveDirection.Back,
            };
            if (!TryInt(parameters, out var distance, out code, out error, "distance"))
            {
                return null;
            }

            return Validated(TelloCommand.TryMove(direction, distance, out command, out error), command, ref code);
        }

        if (name is "rotate_clockwise" or "rotate_counter_clockwise")
        {
            if (!TryInt(parameters, out var degrees, out code, out error, "degrees", "angle"))
            {
                return null;
            }

            return Validated(TelloCommand.TryRotate(name == "rotate_clockwise", degrees, out command, out error), command, ref code);
        }

        if (name == "set_speed")
        {
            if (!TryInt(parameters, out var speed, out code, out error, "speed"))
            {
                return null;
            }

            return Validated(TelloCommand.TrySpeed(speed, out command, out error), command, ref code);
        }

        if (name == "go")
        {
            if (!TryInt(parameters, out var x, out code, out error, "x") || !TryInt(parameters, out var y, out code, out error, "y")
                || !TryInt(parameters, out var z, out code, out error, "z") || !TryInt(parameters, out var s, out code, out error, "speed"))
            {
                return null;
            }

            return Validated(TelloCommand.TryGo(x, y, z, s, out command, out error), command, ref code);
        }

        if (name == "flip")
        {
            var text = parameters.ValueKind == JsonValueKind.Object && parameters.TryGetProperty("direction", out var d)
                ? StringOrNull(d) : null;
            if (text is not { Length: 1 })
            {
                code = ApiErrors.InvalidParameter;
                error = "parameters.direction must be one of \"l\", \"r\", \"f\", \"b\"";
                return null;
            }

            if (!TelloCommand.TryFlip(text[0], out command, out error))
            {
                code = ApiErrors.InvalidParameter;
                return null;
            }

            return command;
        }

        code = ApiErrors.UnknownAction;
        error = $"unknown action \"{name}\"";
        return null;
    }

    private static TelloCommand? Validated(bool ok, TelloCommand? command, ref string? code)
    {
        if (!ok)
        {
            code = ApiErrors.OutOfRange;
            return null;
        }

        return command;
    }

    /// <summary>An integer parameter: a JSON integer, or a string holding one (some clients send strings).</summary>
    private static bool TryInt(JsonElement parameters, out int value, out string? code, out string? error, string name, string? alias = null)
    {
        value = 0;
        code = ApiErrors.InvalidParameter;
        JsonElement element = default;
        var found = parameters.ValueKind == JsonValueKind.Object
            && (parameters.TryGetProperty(name, out element) || (alias is not null && parameters.TryGetProperty(alias, out element)));
        if (!found)
        {
            error = $"parameters.{name} is required (an integer)";
            return false;
        }

        var ok = element.ValueKind switch
        {
            JsonValueKind.Number => element.TryGetInt32(out value) || TryWhole(element, out value),
            JsonValueKind.String => int.TryParse(StringOrNull(element), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value),
            _ => false,
        };
        if (!ok)
        {
            error = $"parameters.{name} must be an integer (got {Truncate(RawTextOrKind(element))})";
            return false;
        }

        code = null;
        error = null;
        return true;
    }

    // 30.0 is accepted as 30; 30.5 is refused rather than rounded; huge values stay out of range instead of wrapping.
    private static bool TryWhole(JsonElement element, out int value)
    {
        value = 0;
        if (!element.TryGetDouble(out var d) || Math.Floor(d) != d)
        {
            return false;
        }

        value = d > int.MaxValue ? int.MaxValue : d < int.MinValue ? int.MinValue : (int)d;
        return true;
    }

    /// <summary>
    /// A string parameter, or null when it is not a string or not valid text: parameters come from the client, and
    /// GetString throws on invalid UTF-8 (an HTTP body) or a lone surrogate escape (found by fuzzing, issue 11).
    /// </summary>
    private static string? StringOrNull(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.String)
        {
            return null;
        }

        try
        {
            return element.GetString();
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    private static string RawTextOrKind(JsonElement element)
    {
        try
        {
            return element.GetRawText();
        }
        catch (InvalidOperationException)
        {
            return "a " + element.ValueKind.ToString().ToLowerInvariant() + " that is not valid UTF-8";
        }
    }

    private static string Truncate(string s) => s.Length <= 40 ? s : s[..40] + "…";
}
