using System.Globalization;
using System.Text.RegularExpressions;

namespace EdgeGateway.Drones.Tello;

/// <summary>What a reply text is, regardless of the command it answers.</summary>
public enum ReplyClass
{
    /// <summary><c>ok</c> in any case, or <c>OK,...</c> (<c>OK,drone will reboot in 3s</c>).</summary>
    Ok,
    /// <summary><c>error ...</c>, <c>out of range</c>, <c>forced stop</c>, <c>FALSE</c>, <c>Error. Not valid marker</c> …</summary>
    Error,
    /// <summary><c>unknown command: x</c> or the old <c>Unkown Command!</c>.</summary>
    UnknownCommand,
    /// <summary>Looks like the value of a read (a number, <c>15dm</c>, a serial, <c>pitch:0;...</c>).</summary>
    Value,
    /// <summary>Anything else: a failure for a control command, a mismatch for a read.</summary>
    Other,
}

/// <summary>How a reply relates to the command it was matched to.</summary>
public enum ReplyMatch
{
    /// <summary>The expected success: <c>ok</c> for control, a parsable value for a read.</summary>
    Success,
    /// <summary>The drone refused or failed the command.</summary>
    Failure,
    /// <summary>The reply cannot belong to this command (stale or shifted): resynchronise.</summary>
    Mismatch,
}

/// <summary>Classifies replies and parses read values into named units. Never throws.</summary>
public static partial class ReplyParser
{
    public static ReplyClass Classify(string reply)
    {
        var r = reply.Trim();
        if (r.Equals("ok", StringComparison.OrdinalIgnoreCase) || r.StartsWith("ok,", StringComparison.OrdinalIgnoreCase))
        {
            return ReplyClass.Ok;
        }

        if (r.StartsWith("unknown command", StringComparison.OrdinalIgnoreCase)
            || r.StartsWith("unkown command", StringComparison.OrdinalIgnoreCase))
        {
            return ReplyClass.UnknownCommand;
        }

        if (r.StartsWith("error", StringComparison.OrdinalIgnoreCase)
            || r.StartsWith("out of range", StringComparison.OrdinalIgnoreCase)
            || r.StartsWith("forced stop", StringComparison.OrdinalIgnoreCase)
            || r.Equals("false", StringComparison.OrdinalIgnoreCase))
        {
            return ReplyClass.Error;
        }

        return LooksLikeValue(r) ? ReplyClass.Value : ReplyClass.Other;
    }

    /// <summary>Judges a reply against the command it was matched to, parsing a read's values.</summary>
    public static ReplyMatch Match(TelloCommand command, string reply, out IReadOnlyDictionary<string, double>? values)
    {
        ArgumentNullException.ThrowIfNull(command);
        values = null;
        var cls = Classify(reply);
        if (command.Kind == TelloCommandKind.Read)
        {
            return cls switch
            {
                ReplyClass.Error or ReplyClass.UnknownCommand => ReplyMatch.Failure,
                ReplyClass.Ok => ReplyMatch.Mismatch,
                _ => TryParseRead(command.Read ?? TelloRead.Battery, reply, out values) ? ReplyMatch.Success : ReplyMatch.Mismatch,
            };
        }

        if (cls == ReplyClass.UnknownCommand && !NamesCommand(reply, command.Text))
        {
            // "unknown command: sn?" answering "takeoff" is a shifted reply, not takeoff's failure.
            return ReplyMatch.Mismatch;
        }

        return cls switch
        {
            ReplyClass.Ok => ReplyMatch.Success,
            // A value where ok/error was expected is a read's reply shifted onto this command.
            ReplyClass.Value => ReplyMatch.Mismatch,
            _ => ReplyMatch.Failure,
        };
    }

    private static bool NamesCommand(string reply, string commandText)
    {
        var colon = reply.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return true; // "Unkown Command!" names nothing: take it as this command's answer
        }

        var named = reply[(colon + 1)..].Trim();
        var verb = commandText.Split(' ', 2)[0];
        return named.StartsWith(verb, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>True for a serial number reply to <c>sn?</c> (14 upper-case letters and digits on real drones).</summary>
    public static bool IsSerialNumber(string reply) => SerialPattern().IsMatch(reply.Trim());

    /// <summary>
    /// Parses a read reply into values with named units. Accepts the raw formats real drones send:
    /// <c>15dm</c>, <c>875mm</c>, <c>11s</c>, <c>85~88C</c>, <c>100.0</c>, <c>pitch:0;roll:-1;yaw:0;</c>,
    /// <c>agx:-5.00;agy:7.00;agz:-999.00;</c>. <c>sn?</c> yields no values (the serial is the reply).
    /// </summary>
    public static bool TryParseRead(TelloRead read, string reply, out IReadOnlyDictionary<string, double>? values)
    {
        values = null;
        var r = reply.Trim().TrimEnd('\0').Trim();
        var v = new Dictionary<string, double>(StringComparer.Ordinal);
        switch (read)
        {
            case TelloRead.Battery:
                if (!Number(r, out var n) || n is < 0 or > 100) { return false; }
                v["battery"] = n;
                break;
            case TelloRead.Speed:
                if (!Number(r, out n) || n < 0) { return false; }
                v["speed_cm_s"] = n;
                break;
            case TelloRead.Time:
                if (!Number(StripSuffix(r, "s"), out n) || n < 0) { return false; }
                v["flight_time_s"] = n;
                break;
            case TelloRead.Wifi:
                if (!Number(r, out n)) { return false; }
                v["wifi_snr"] = n;
                break;
            case TelloRead.Sdk:
                if (!Number(r, out n) || n < 0) { return false; }
                v["sdk_version"] = n;
                break;
            case TelloRead.Height:
                if (r.EndsWith("dm", StringComparison.OrdinalIgnoreCase))
                {
                    if (!Number(r[..^2], out n)) { return false; }
                    v["height_cm"] = n * 10;
                }
                else if (r.EndsWith("cm", StringComparison.OrdinalIgnoreCase) ? Number(r[..^2], out n) : Number(r, out n))
                {
                    v["height_cm"] = n;
                }
                else
                {
                    return false;
                }

                break;
            case TelloRead.Tof:
                if (r.EndsWith("mm", StringComparison.OrdinalIgnoreCase))
                {
                    if (!Number(r[..^2], out n)) { return false; }
                    v["tof_cm"] = n / 10;
                }
                else if (r.EndsWith("cm", StringComparison.OrdinalIgnoreCase) ? Number(r[..^2], out n) : Number(r, out n))
                {
                    v["tof_cm"] = n;
                }
                else
                {
                    return false;
                }

                break;
            case TelloRead.Temperature:
            {
                var t = StripSuffix(r, "C");
                var tilde = t.IndexOf('~', StringComparison.Ordinal);
                if (tilde >= 0)
                {
                    if (!Number(t[..tilde], out var lo) || !Number(t[(tilde + 1)..], out var hi)) { return false; }
                    v["temperature_low_c"] = lo;
                    v["temperature_high_c"] = hi;
                }
                else
                {
                    if (!Number(t, out n)) { return false; }
                    v["temperature_low_c"] = n;
                    v["temperature_high_c"] = n;
                }

                break;
            }
            case TelloRead.Barometer:
                if (!Number(StripSuffix(r, "m"), out n)) { return false; }
                v["barometer_m"] = n;
                break;
            case TelloRead.Attitude:
                return Pairs(r, [("pitch", "pitch_deg"), ("roll", "roll_deg"), ("yaw", "yaw_deg")], out values)
                    || Triple(r, ["pitch_deg", "roll_deg", "yaw_deg"], out values);
            case TelloRead.Acceleration:
                return Pairs(r, [("agx", "accel_x_mg"), ("agy", "accel_y_mg"), ("agz", "accel_z_mg")], out values)
                    || Triple(r, ["accel_x_mg", "accel_y_mg", "accel_z_mg"], out values);
            case TelloRead.SerialNumber:
                if (!SerialLikePattern().IsMatch(r)) { return false; }
                break;
            default:
                return false;
        }

        values = v;
        return true;
    }

    private static bool LooksLikeValue(string r)
    {
        if (r.Length == 0)
        {
            return false;
        }

        var stripped = r.TrimEnd('C', 's', 'm', 'd');
        return Number(stripped, out _)
            || r.Contains('~', StringComparison.Ordinal)
            || SerialPattern().IsMatch(r)
            || (r.Contains(':', StringComparison.Ordinal) && r.Contains(';', StringComparison.Ordinal));
    }

    private static string StripSuffix(string text, string suffix) =>
        text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) ? text[..^suffix.Length] : text;

    private static bool Number(string text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    private static bool Pairs(string text, (string Key, string Name)[] keys, out IReadOnlyDictionary<string, double>? values)
    {
        values = null;
        var found = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var item in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var colon = item.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return false;
            }

            var key = item[..colon].Trim();
            foreach (var (k, name) in keys)
            {
                if (k.Equals(key, StringComparison.OrdinalIgnoreCase))
                {
                    if (!Number(item[(colon + 1)..], out var n))
                    {
                        return false;
                    }

                    found[name] = n;
                }
            }
        }

        if (found.Count != keys.Length)
        {
            return false;
        }

        values = found;
        return true;
    }

    // SDK 1.3 documents "x y z" separated by spaces.
    private static bool Triple(string text, string[] names, out IReadOnlyDictionary<string, double>? values)
    {
        values = null;
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3)
        {
            return false;
        }

        var found = new Dictionary<string, double>(StringComparer.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            if (!Number(parts[i], out var n))
            {
                return false;
            }

            found[names[i]] = n;
        }

        values = found;
        return true;
    }

    [GeneratedRegex("^[0-9A-Z]{14}$")]
    private static partial Regex SerialPattern();

    // User reads of sn? are a little more lenient than the resync check (other models, lower case).
    [GeneratedRegex("^[0-9A-Za-z]{8,24}$")]
    private static partial Regex SerialLikePattern();
}
