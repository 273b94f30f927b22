using System.Globalization;
using System.Text;

namespace EdgeGateway.Drones.Tello;

/// <summary>Why a state datagram was not turned into a <see cref="TelloState"/>.</summary>
public enum StateParseResult
{
    Ok,
    /// <summary>Empty after trimming whitespace, CR/LF and NUL.</summary>
    Empty,
    /// <summary>Not ASCII text (e.g. a binary app-protocol packet).</summary>
    Binary,
    /// <summary>Larger than any real state datagram.</summary>
    Oversize,
    /// <summary>Cut short: does not end with <c>;</c> or has an item without <c>key:value</c>.</summary>
    Truncated,
    /// <summary>Text, but not one known key with a valid value.</summary>
    NoKnownKeys,
}

/// <summary>
/// Parses Tello state datagrams (SDK 1.3, 2.0 and 3.0): <c>key:value;</c> pairs, <c>mpry</c> with
/// commas, unknown keys kept, missing keys left null, trailing CR/LF and NUL ignored. Never throws.
/// </summary>
public static class StateDatagramParser
{
    /// <summary>Real state datagrams are about 150-200 bytes; anything far beyond is not state.</summary>
    public const int MaxDatagramBytes = 1024;

    public static StateParseResult TryParse(ReadOnlySpan<byte> datagram, out TelloState? state)
    {
        state = null;
        if (datagram.Length > MaxDatagramBytes)
        {
            return StateParseResult.Oversize;
        }

        if (!TelloText.TryDecode(datagram, out var text))
        {
            return StateParseResult.Binary;
        }

        if (text.Length == 0)
        {
            return StateParseResult.Empty;
        }

        if (!text.EndsWith(';'))
        {
            return StateParseResult.Truncated;
        }

        // One pass over the text into locals, then one record: no per-field record copies, no
        // Split/substrings. The only allocations are the raw string, the record and, when a datagram
        // carries unknown or unreadable keys, the dictionary that keeps them.
        var known = 0;
        Dictionary<string, string>? unknown = null;
        int? mid = null, x = null, y = null, z = null, pitch = null, roll = null, yaw = null;
        int? vgx = null, vgy = null, vgz = null, templ = null, temph = null, tof = null, h = null, bat = null, time = null;
        double? baro = null, agx = null, agy = null, agz = null;
        (int Pitch, int Roll, int Yaw)? mpry = null;

        var rest = text.AsSpan();
        while (rest.Length > 0)
        {
            var semi = rest.IndexOf(';');
            var item = semi < 0 ? rest : rest[..semi];
            rest = semi < 0 ? [] : rest[(semi + 1)..];
            if (item.IsEmpty)
            {
                continue; // ";;" or the trailing ";"
            }

            var colon = item.IndexOf(':');
            if (colon <= 0)
            {
                return StateParseResult.Truncated;
            }

            var key = item[..colon].Trim();
            var value = item[(colon + 1)..].Trim();
            bool matched;
            switch (key)
            {
                case "mid": matched = Int(value, ref mid); break;
                case "x": matched = Int(value, ref x); break;
                case "y": matched = Int(value, ref y); break;
                case "z": matched = Int(value, ref z); break;
                case "mpry": matched = Triple(value, ref mpry); break;
                case "pitch": matched = Int(value, ref pitch); break;
                case "roll": matched = Int(value, ref roll); break;
                case "yaw": matched = Int(value, ref yaw); break;
                case "vgx": matched = Int(value, ref vgx); break;
                case "vgy": matched = Int(value, ref vgy); break;
                case "vgz": matched = Int(value, ref vgz); break;
                case "templ": matched = Int(value, ref templ); break;
                case "temph": matched = Int(value, ref temph); break;
                case "tof": matched = Int(value, ref tof); break;
                case "h": matched = Int(value, ref h); break;
                case "bat": matched = Int(value, ref bat); break;
                case "time": matched = Int(value, ref time); break;
                case "baro": matched = Dbl(value, ref baro); break;
                case "agx": matched = Dbl(value, ref agx); break;
                case "agy": matched = Dbl(value, ref agy); break;
                case "agz": matched = Dbl(value, ref agz); break;
                default:
                    unknown ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    unknown[key.ToString()] = value.ToString();
                    continue;
            }

            if (matched)
            {
                known++;
            }
            else
            {
                // A known key with a value we cannot read: keep it verbatim rather than guess.
                unknown ??= new Dictionary<string, string>(StringComparer.Ordinal);
                unknown[key.ToString()] = value.ToString();
            }
        }

        if (known == 0)
        {
            return StateParseResult.NoKnownKeys;
        }

        state = new TelloState
        {
            MissionPadId = mid,
            MissionPadX = x,
            MissionPadY = y,
            MissionPadZ = z,
            MissionPadAttitude = mpry,
            PitchDeg = pitch,
            RollDeg = roll,
            YawDeg = yaw,
            SpeedX = vgx,
            SpeedY = vgy,
            SpeedZ = vgz,
            TemperatureLowC = templ,
            TemperatureHighC = temph,
            TofCm = tof,
            HeightCm = h,
            BatteryPercent = bat,
            Barometer = baro,
            FlightTimeS = time,
            AccelX = agx,
            AccelY = agy,
            AccelZ = agz,
            UnknownKeys = unknown,
            Raw = text,
        };
        return StateParseResult.Ok;
    }

    // A later good value of a repeated key wins; a bad one leaves the earlier value in place.
    private static bool Int(ReadOnlySpan<char> text, ref int? field)
    {
        if (!TryInt(text, out var v))
        {
            return false;
        }

        field = v;
        return true;
    }

    private static bool Dbl(ReadOnlySpan<char> text, ref double? field)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            return false;
        }

        field = v;
        return true;
    }

    // mpry is "pitch,roll,yaw": exactly three comma-separated integers.
    private static bool Triple(ReadOnlySpan<char> text, ref (int Pitch, int Roll, int Yaw)? field)
    {
        var first = text.IndexOf(',');
        if (first < 0)
        {
            return false;
        }

        var tail = text[(first + 1)..];
        var second = tail.IndexOf(',');
        if (second < 0 || tail[(second + 1)..].Contains(','))
        {
            return false;
        }

        if (!TryInt(text[..first], out var p) || !TryInt(tail[..second], out var r) || !TryInt(tail[(second + 1)..], out var y))
        {
            return false;
        }

        field = (p, r, y);
        return true;
    }

    private static bool TryInt(ReadOnlySpan<char> text, out int value)
    {
        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }

        // Some firmware prints integers as "12.00"; accept whole-valued decimals only.
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
        {
            value = (int)d;
            return true;
        }

        return false;
    }
}

/// <summary>Text decoding shared by the state and command channels.</summary>
internal static class TelloText
{
    /// <summary>
    /// Decodes printable ASCII, trimming whitespace, CR/LF and NUL at both ends. Returns false for
    /// anything else (binary app-protocol packets, UTF-8, control bytes inside the text).
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        var start = 0;
        var end = bytes.Length;
        while (start < end && IsPadding(bytes[start]))
        {
            start++;
        }

        while (end > start && IsPadding(bytes[end - 1]))
        {
            end--;
        }

        var body = bytes[start..end];
        foreach (var b in body)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return false;
            }
        }

        text = Encoding.ASCII.GetString(body);
        return true;
    }

    private static bool IsPadding(byte b) => b is 0 or (byte)' ' or (byte)'\r' or (byte)'\n' or (byte)'\t';
}
