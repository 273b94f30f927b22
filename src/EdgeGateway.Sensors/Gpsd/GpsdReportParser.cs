using System.Globalization;
using System.Text.Json;
using EdgeGateway.Sensors.Nmea;

namespace EdgeGateway.Sensors.Gpsd;

public enum GpsdReportResult
{
    /// <summary>A TPV: a position report was produced.</summary>
    Position = 0,
    /// <summary>A SKY report: satellites and DOPs remembered for the next TPV.</summary>
    Sky,
    /// <summary>VERSION, DEVICES, WATCH and other classes this source does not need.</summary>
    Ignored,
    /// <summary>gpsd's own ERROR report.</summary>
    GpsdError,
    InvalidJson,
    /// <summary>JSON, but not an object with a <c>class</c>, or a TPV/SKY with wrongly typed fields.</summary>
    InvalidReport,
}

/// <summary>
/// Reads gpsd's JSON reports (one object per line). TPV gives position, altitude, speed, course and
/// time; SKY gives satellites used/in view and DOPs, which are attached to the next TPV.
/// </summary>
public sealed class GpsdReportParser
{
    private int? _used;
    private int? _inView;
    private double? _hdop;
    private double? _pdop;
    private double? _vdop;

    public GpsdReportResult Parse(ReadOnlySpan<byte> line, out GpsFix? fix)
    {
        fix = null;
        try
        {
            using var doc = JsonDocument.Parse(line.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("class", out var cls) || cls.ValueKind != JsonValueKind.String)
            {
                return GpsdReportResult.InvalidReport;
            }

            switch (cls.GetString())
            {
                case "TPV":
                    fix = Tpv(root);
                    return GpsdReportResult.Position;
                case "SKY":
                    Sky(root);
                    return GpsdReportResult.Sky;
                case "ERROR":
                    return GpsdReportResult.GpsdError;
                default:
                    return GpsdReportResult.Ignored;
            }
        }
        catch (JsonException)
        {
            return GpsdReportResult.InvalidJson;
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            return GpsdReportResult.InvalidReport; // a field of the wrong JSON type
        }
    }

    private GpsFix Tpv(JsonElement tpv)
    {
        var mode = Int(tpv, "mode") ?? 0;
        var status = Int(tpv, "status") ?? 1;
        DateTimeOffset? time = null;
        if (tpv.TryGetProperty("time", out var t) && t.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(t.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            time = parsed;
        }

        GpsFixQuality quality = mode < 2
            ? GpsFixQuality.Invalid
            : status switch
            {
                2 => GpsFixQuality.Dgps,
                3 => GpsFixQuality.RtkFixed,
                4 => GpsFixQuality.RtkFloat,
                5 or 6 => GpsFixQuality.Estimated,
                7 => GpsFixQuality.Manual,
                8 => GpsFixQuality.Simulated,
                _ => GpsFixQuality.Gps,
            };
        return new GpsFix
        {
            UtcTime = time,
            TimeValid = time is not null && mode >= 2,
            LatitudeDeg = mode >= 2 ? Double(tpv, "lat") : null,
            LongitudeDeg = mode >= 2 ? Double(tpv, "lon") : null,
            AltitudeMslM = mode >= 3 ? Double(tpv, "altMSL") ?? Double(tpv, "alt") : null,
            FixQuality = quality,
            FixMode = mode switch { 3 => GpsFixMode.Fix3D, 2 => GpsFixMode.Fix2D, 1 => GpsFixMode.NoFix, _ => null },
            SatellitesUsed = _used,
            SatellitesInView = _inView,
            Hdop = _hdop,
            Pdop = _pdop,
            Vdop = _vdop,
            SpeedMps = Double(tpv, "speed"),
            CourseDeg = Double(tpv, "track"),
        };
    }

    private void Sky(JsonElement sky)
    {
        _hdop = Double(sky, "hdop") ?? _hdop;
        _pdop = Double(sky, "pdop") ?? _pdop;
        _vdop = Double(sky, "vdop") ?? _vdop;
        if (sky.TryGetProperty("satellites", out var sats) && sats.ValueKind == JsonValueKind.Array)
        {
            var used = 0;
            foreach (var s in sats.EnumerateArray())
            {
                if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("used", out var u) && u.ValueKind == JsonValueKind.True)
                {
                    used++;
                }
            }

            _used = used;
            _inView = sats.GetArrayLength();
        }

        _used = Int(sky, "uSat") ?? _used;
        _inView = Int(sky, "nSat") ?? _inView;
    }

    private static double? Double(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static int? Int(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) ? i : null;
}
