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

        var known = 0;
        Dictionary<string, string>? unknown = null;
        var s = new TelloState { Raw = text };
        foreach (var item in text.Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = item.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                return StateParseResult.Truncated;
            }

            var key = item[..colon].Trim();
            var value = item[(colon + 1)..].Trim();
            var matched = true;
            switch (key)
            {
                case "mid": matched = Int(value, out var v); if (matched) { s = s with { MissionPadId = v }; } break;
                case "x": matched = Int(value, out v); if (matched) { s = s with { MissionPadX = v }; } break;
                case "y": matched = Int(value, out v); if (matched) { s = s with { MissionPadY = v }; } break;
                case "z": matched = Int(value, out v); if (matched) { s = s with { MissionPadZ = v }; } break;
                case "mpry":
                    var parts = value.Split(',');
                    var mp = 0;
                    var mr = 0;
                    var my = 0;
                    matched = parts.Length == 3 && Int(parts[0], out mp) && Int(parts[1], out mr) && Int(parts[2], out my);
                    if (matched)
                    {
                        s = s with { MissionPadAttitude = (mp, mr, my) };
                    }

                    break;
                case "pitch": matched = Int(value, out v); if (matched) { s = s with { PitchDeg = v }; } break;
                case "roll": matched = Int(value, out v); if (matched) { s = s with { RollDeg = v }; } break;
                case "yaw": matched = Int(value, out v); if (matched) { s = s with { YawDeg = v }; } break;
                case "vgx": matched = Int(value, out v); if (matched) { s = s with { SpeedX = v }; } break;
                case "vgy": matched = Int(value, out v); if (matched) { s = s with { SpeedY = v }; } break;
                case "vgz": matched = Int(value, out v); if (matched) { s = s with { SpeedZ = v }; } break;
                case "templ": matched = Int(value, out v); if (matched) { s = s with { TemperatureLowC = v }; } break;
                case "temph": matched = Int(value, out v); if (matched) { s = s with { TemperatureHighC = v }; } break;
                case "tof": matched = Int(value, out v); if (matched) { s = s with { TofCm = v }; } break;
                case "h": matched = Int(value, out v); if (matched) { s = s with { HeightCm = v }; } break;
                case "bat": matched = Int(value, out v); if (matched) { s = s with { BatteryPercent = v }; } break;
                case "time": matched = Int(value, out v); if (matched) { s = s with { FlightTimeS = v }; } break;
                case "baro": matched = Dbl(value, out var d); if (matched) { s = s with { Barometer = d }; } break;
                case "agx": matched = Dbl(value, out d); if (matched) { s = s with { AccelX = d }; } break;
                case "agy": matched = Dbl(value, out d); if (matched) { s = s with { AccelY = d }; } break;
                case "agz": matched = Dbl(value, out d); if (matched) { s = s with { AccelZ = d }; } break;
                default:
                    unknown ??= new Dictionary<string, string>(StringComparer.Ordinal);
                    unknown[key] = value;
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
                unknown[key] = value;
            }
        }

        if (known == 0)
        {
            return StateParseResult.NoKnownKeys;
        }

        state = unknown is null ? s : s with { UnknownKeys = unknown };
        return StateParseResult.Ok;
    }

    private static bool Int(string text, out int value)
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

    private static bool Dbl(string text, out double value) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && double.IsFinite(value);
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
