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
    /// <summary>
    /// JSON, but not an object with a <c>class</c>, or a TPV/SKY with a wrongly typed field (a number as a string,
    /// an unparsable time, <c>satellites</c> that is not an array) or a latitude/longitude out of range.
    /// Nothing of such a report is used.
    /// </summary>
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
            fix = null;
            return GpsdReportResult.InvalidReport; // a field of the wrong JSON type
        }
    }

    private GpsFix Tpv(JsonElement tpv)
    {
        var mode = Int(tpv, "mode") ?? 0;
        var status = Int(tpv, "status") ?? 1;
        DateTimeOffset? time = null;
        if (Present(tpv, "time", out var t))
        {
            if (t.ValueKind != JsonValueKind.String
                || !DateTimeOffset.TryParse(t.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
            {
                throw new FormatException("TPV time is not an ISO 8601 string");
            }

            time = parsed;
        }

        var lat = Double(tpv, "lat");
        var lon = Double(tpv, "lon");
        if (lat is < -90 or > 90 || lon is < -180 or > 180)
        {
            throw new FormatException("TPV position out of range");
        }

        var altMsl = Double(tpv, "altMSL");
        var alt = Double(tpv, "alt");
        var speed = Double(tpv, "speed");
        var track = Double(tpv, "track");

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
            LatitudeDeg = mode >= 2 ? lat : null,
            LongitudeDeg = mode >= 2 ? lon : null,
            AltitudeMslM = mode >= 3 ? altMsl ?? alt : null,
            FixQuality = quality,
            FixMode = mode switch { 3 => GpsFixMode.Fix3D, 2 => GpsFixMode.Fix2D, 1 => GpsFixMode.NoFix, _ => null },
            SatellitesUsed = _used,
            SatellitesInView = _inView,
            Hdop = _hdop,
            Pdop = _pdop,
            Vdop = _vdop,
            SpeedMps = speed,
            CourseDeg = track,
        };
    }

    private void Sky(JsonElement sky)
    {
        // Everything is read before anything is kept, so a bad SKY changes nothing.
        var hdop = Double(sky, "hdop");
        var pdop = Double(sky, "pdop");
        var vdop = Double(sky, "vdop");
        int? used = null;
        int? inView = null;
        if (Present(sky, "satellites", out var sats))
        {
            if (sats.ValueKind != JsonValueKind.Array)
            {
                throw new FormatException("SKY satellites is not an array");
            }

            var count = 0;
            foreach (var s in sats.EnumerateArray())
            {
                if (s.ValueKind == JsonValueKind.Object && s.TryGetProperty("used", out var u) && u.ValueKind == JsonValueKind.True)
                {
                    count++;
                }
            }

            used = count;
            inView = sats.GetArrayLength();
        }

        used = Int(sky, "uSat") ?? used;
        inView = Int(sky, "nSat") ?? inView;
        _hdop = hdop ?? _hdop;
        _pdop = pdop ?? _pdop;
        _vdop = vdop ?? _vdop;
        _used = used ?? _used;
        _inView = inView ?? _inView;
    }

    /// <summary>The property, unless it is absent or JSON null (both mean "not known").</summary>
    private static bool Present(JsonElement e, string name, out JsonElement value)
        => e.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

    /// <summary>A number field; absent is null, any other JSON type is a bad report.</summary>
    private static double? Double(JsonElement e, string name)
        => Present(e, name, out var v) ? v.GetDouble() : null; // GetDouble throws InvalidOperationException on a non-number

    private static int? Int(JsonElement e, string name)
        => Present(e, name, out var v) ? v.GetInt32() : null; // throws on a non-number or a non-integer (FormatException)
}
