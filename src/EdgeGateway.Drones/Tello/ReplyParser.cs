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
    // Everything below works on spans of the reply: the only allocation left for a successful read is
    // the small dictionary of values handed back to the caller.
    public static ReplyClass Classify(string reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return Classify(reply.AsSpan().Trim());
    }

    private static ReplyClass Classify(ReadOnlySpan<char> r)
    {
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
        ArgumentNullException.ThrowIfNull(reply);
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

        var named = reply.AsSpan(colon + 1).Trim();
        var space = commandText.IndexOf(' ', StringComparison.Ordinal);
        var verb = space < 0 ? commandText.AsSpan() : commandText.AsSpan(0, space);
        return named.StartsWith(verb, StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>True for a serial number reply to <c>sn?</c> (14 upper-case letters and digits on real drones).</summary>
    public static bool IsSerialNumber(string reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return SerialPattern().IsMatch(reply.AsSpan().Trim());
    }

    /// <summary>
    /// Parses a read reply into values with named units. Accepts the raw formats real drones send:
    /// <c>15dm</c>, <c>875mm</c>, <c>11s</c>, <c>85~88C</c>, <c>100.0</c>, <c>pitch:0;roll:-1;yaw:0;</c>,
    /// <c>agx:-5.00;agy:7.00;agz:-999.00;</c>. <c>sn?</c> yields no values (the serial is the reply).
    /// </summary>
    public static bool TryParseRead(TelloRead read, string reply, out IReadOnlyDictionary<string, double>? values)
    {
        ArgumentNullException.ThrowIfNull(reply);
        values = null;
        var r = reply.AsSpan().Trim().TrimEnd('\0').Trim();
        double n;
        switch (read)
        {
            case TelloRead.Battery:
                if (!Number(r, out n) || n is < 0 or > 100) { return false; }
                values = One("battery", n);
                return true;
            case TelloRead.Speed:
                if (!Number(r, out n) || n < 0) { return false; }
                values = One("speed_cm_s", n);
                return true;
            case TelloRead.Time:
                if (!Number(StripSuffix(r, "s"), out n) || n < 0) { return false; }
                values = One("flight_time_s", n);
                return true;
            case TelloRead.Wifi:
                if (!Number(r, out n)) { return false; }
                values = One("wifi_snr", n);
                return true;
            case TelloRead.Sdk:
                if (!Number(r, out n) || n < 0) { return false; }
                values = One("sdk_version", n);
                return true;
            case TelloRead.Height:
                if (r.EndsWith("dm", StringComparison.OrdinalIgnoreCase))
                {
                    if (!Number(r[..^2], out n)) { return false; }
                    values = One("height_cm", n * 10);
                    return true;
                }

                if (!Number(StripSuffix(r, "cm"), out n)) { return false; }
                values = One("height_cm", n);
                return true;
            case TelloRead.Tof:
                if (r.EndsWith("mm", StringComparison.OrdinalIgnoreCase))
                {
                    if (!Number(r[..^2], out n)) { return false; }
                    values = One("tof_cm", n / 10);
                    return true;
                }

                if (!Number(StripSuffix(r, "cm"), out n)) { return false; }
                values = One("tof_cm", n);
                return true;
            case TelloRead.Temperature:
            {
                var t = StripSuffix(r, "C");
                var tilde = t.IndexOf('~');
                double lo, hi;
                if (tilde >= 0)
                {
                    if (!Number(t[..tilde], out lo) || !Number(t[(tilde + 1)..], out hi)) { return false; }
                }
                else
                {
                    if (!Number(t, out lo)) { return false; }
                    hi = lo;
                }

                values = new Dictionary<string, double>(2, StringComparer.Ordinal)
                {
                    ["temperature_low_c"] = lo,
                    ["temperature_high_c"] = hi,
                };
                return true;
            }
            case TelloRead.Barometer:
                if (!Number(StripSuffix(r, "m"), out n)) { return false; }
                values = One("barometer_m", n);
                return true;
            case TelloRead.Attitude:
                return Pairs(r, "pitch", "roll", "yaw", "pitch_deg", "roll_deg", "yaw_deg", out values)
                    || Triple(r, "pitch_deg", "roll_deg", "yaw_deg", out values);
            case TelloRead.Acceleration:
                return Pairs(r, "agx", "agy", "agz", "accel_x_mg", "accel_y_mg", "accel_z_mg", out values)
                    || Triple(r, "accel_x_mg", "accel_y_mg", "accel_z_mg", out values);
            case TelloRead.SerialNumber:
                if (!SerialLikePattern().IsMatch(r)) { return false; }
                values = new Dictionary<string, double>(StringComparer.Ordinal);
                return true;
            default:
                return false;
        }
    }

    private static Dictionary<string, double> One(string name, double value) =>
        new(1, StringComparer.Ordinal) { [name] = value };

    private static bool LooksLikeValue(ReadOnlySpan<char> r)
    {
        if (r.Length == 0)
        {
            return false;
        }

        var stripped = r.TrimEnd("Csmd");
        return Number(stripped, out _)
            || r.Contains('~')
            || SerialPattern().IsMatch(r)
            || (r.Contains(':') && r.Contains(';'));
    }

    private static ReadOnlySpan<char> StripSuffix(ReadOnlySpan<char> text, string suffix) =>
        text.EndsWith(suffix, StringComparison.OrdinalIgnoreCase) ? text[..^suffix.Length] : text;

    private static bool Number(ReadOnlySpan<char> text, out double value) =>
        double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);

    // "k1:v;k2:v;k3:v;" in any order (keys case-insensitive); every item must be key:number and all three keys present.
    private static bool Pairs(ReadOnlySpan<char> text, string k1, string k2, string k3, string n1, string n2, string n3,
        out IReadOnlyDictionary<string, double>? values)
    {
        values = null;
        double? v1 = null, v2 = null, v3 = null;
        var rest = text;
        while (rest.Length > 0)
        {
            var semi = rest.IndexOf(';');
            var item = (semi < 0 ? rest : rest[..semi]).Trim();
            rest = semi < 0 ? [] : rest[(semi + 1)..];
            if (item.IsEmpty)
            {
                continue;
            }

            var colon = item.IndexOf(':');
            if (colon <= 0)
            {
                return false;
            }

            var key = item[..colon].Trim();
            ref var slot = ref v1;
            if (key.Equals(k1, StringComparison.OrdinalIgnoreCase)) { slot = ref v1; }
            else if (key.Equals(k2, StringComparison.OrdinalIgnoreCase)) { slot = ref v2; }
            else if (key.Equals(k3, StringComparison.OrdinalIgnoreCase)) { slot = ref v3; }
            else { continue; }

            if (!Number(item[(colon + 1)..], out var n))
            {
                return false;
            }

            slot = n;
        }

        if (v1 is not { } a || v2 is not { } b || v3 is not { } c)
        {
            return false;
        }

        values = new Dictionary<string, double>(3, StringComparer.Ordinal) { [n1] = a, [n2] = b, [n3] = c };
        return true;
    }

    // SDK 1.3 documents "x y z" separated by spaces.
    private static bool Triple(ReadOnlySpan<char> text, string n1, string n2, string n3, out IReadOnlyDictionary<string, double>? values)
    {
        values = null;
        Span<double> found = stackalloc double[3];
        var count = 0;
        foreach (var range in text.Split(' '))
        {
            var part = text[range];
            if (part.IsEmpty)
            {
                continue;
            }

            if (count == 3 || !Number(part, out found[count]))
            {
                return false;
            }

            count++;
        }

        if (count != 3)
        {
            return false;
        }

        values = new Dictionary<string, double>(3, StringComparer.Ordinal) { [n1] = found[0], [n2] = found[1], [n3] = found[2] };
        return true;
    }

    [GeneratedRegex("^[0-9A-Z]{14}$")]
    private static partial Regex SerialPattern();

    // User reads of sn? are a little more lenient than the resync check (other models, lower case).
    [GeneratedRegex("^[0-9A-Za-z]{8,24}$")]
    private static partial Regex SerialLikePattern();
}
