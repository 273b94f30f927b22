using System.Text.Json;
using EdgeGateway.Sensors.Lines;
using EdgeGateway.Sensors.Nmea;
using EdgeGateway.Sensors.Tfmini;

namespace EdgeGateway.Sensors.Drivers;

/// <summary>
/// One reading a driver produced. Written as the record payload: a UTF-8 JSON object with snake_case
/// keys whose names carry their unit (<c>alt_msl_m</c>, <c>distance_m</c>).
/// </summary>
public abstract class SensorReading
{
    /// <summary>Payload <c>type</c>: <c>gps</c>, <c>range</c>, <c>lines</c>.</summary>
    public abstract string Type { get; }

    public abstract void WriteFields(Utf8JsonWriter writer);
}

/// <summary>A position epoch from NMEA or gpsd.</summary>
public sealed class GpsReading(GpsFix fix, string origin) : SensorReading
{
    public GpsFix Fix { get; } = fix;

    /// <summary><c>nmea</c> or <c>gpsd</c>.</summary>
    public string Origin { get; } = origin;

    public override string Type => "gps";

    public override void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var f = Fix;
        writer.WriteString("origin", Origin);
        writer.WriteBoolean("has_fix", f.HasFix);
        Number(writer, "lat_deg", f.LatitudeDeg);
        Number(writer, "lon_deg", f.LongitudeDeg);
        Number(writer, "alt_msl_m", f.AltitudeMslM);
        if (f.FixQuality is { } q)
        {
            writer.WriteString("fix_quality", QualityName(q));
        }

        if (f.FixMode is { } m)
        {
            writer.WriteString("fix_mode", m switch { GpsFixMode.Fix3D => "3d", GpsFixMode.Fix2D => "2d", _ => "none" });
        }

        Number(writer, "satellites_used", f.SatellitesUsed);
        Number(writer, "satellites_in_view", f.SatellitesInView);
        Number(writer, "hdop", f.Hdop);
        Number(writer, "pdop", f.Pdop);
        Number(writer, "vdop", f.Vdop);
        Number(writer, "speed_mps", f.SpeedMps);
        Number(writer, "course_deg", f.CourseDeg);
        if (f.UtcTime is { } t)
        {
            writer.WriteString("gps_time", t);
            writer.WriteBoolean("gps_time_valid", f.TimeValid);
        }
    }

    public static string QualityName(GpsFixQuality q) => q switch
    {
        GpsFixQuality.Invalid => "invalid",
        GpsFixQuality.Gps => "gps",
        GpsFixQuality.Dgps => "dgps",
        GpsFixQuality.Pps => "pps",
        GpsFixQuality.RtkFixed => "rtk_fixed",
        GpsFixQuality.RtkFloat => "rtk_float",
        GpsFixQuality.Estimated => "estimated",
        GpsFixQuality.Manual => "manual",
        _ => "simulated",
    };

    internal static void Number(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, Math.Round(v, 9));
        }
    }

    internal static void Number(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }
}

/// <summary>A range finder measurement (TFmini).</summary>
public sealed class RangeReading(TfminiFrame frame) : SensorReading
{
    public TfminiFrame Frame { get; } = frame;

    public override string Type => "range";

    public override void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumber("distance_m", Frame.DistanceCm / 100.0);
        writer.WriteNumber("strength", Frame.Strength);
        writer.WriteBoolean("reliable", Frame.IsReliable);
        GpsReading.Number(writer, "temperature_c", Frame.TemperatureC);
    }
}

/// <summary>Named values from a line sensor.</summary>
public sealed class LineReading(IReadOnlyList<SensorValue> values) : SensorReading
{
    public IReadOnlyList<SensorValue> Values { get; } = values;

    public override string Type => "lines";

    public override void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject("values");
        foreach (var v in Values)
        {
            if (v.Number is { } n)
            {
                writer.WriteNumber(v.Key, n);
            }
            else
            {
                writer.WriteString(v.Key, v.Text);
            }
        }

        writer.WriteEndObject();
    }
}
