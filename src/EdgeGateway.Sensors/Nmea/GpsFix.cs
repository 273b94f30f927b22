namespace EdgeGateway.Sensors.Nmea;

/// <summary>
/// One position epoch as the gateway records it, whichever way it arrived (NMEA on a serial port,
/// or gpsd's JSON). Null means "not reported".
/// </summary>
public sealed record GpsFix
{
    /// <summary>UTC date and time of the fix, when the receiver reported both (RMC, or gpsd's TPV time).</summary>
    public DateTimeOffset? UtcTime { get; init; }

    /// <summary>True when the receiver says its time (and date) are valid: RMC status A, or a gpsd TPV with a time and a fix.</summary>
    public bool TimeValid { get; init; }

    public double? LatitudeDeg { get; init; }

    public double? LongitudeDeg { get; init; }

    public double? AltitudeMslM { get; init; }

    public GpsFixQuality? FixQuality { get; init; }

    public GpsFixMode? FixMode { get; init; }

    public int? SatellitesUsed { get; init; }

    public int? SatellitesInView { get; init; }

    public double? Hdop { get; init; }

    public double? Pdop { get; init; }

    public double? Vdop { get; init; }

    public double? SpeedMps { get; init; }

    public double? CourseDeg { get; init; }

    /// <summary>True when there is a position and the receiver did not flag it invalid.</summary>
    public bool HasFix => LatitudeDeg is not null && LongitudeDeg is not null
        && FixQuality is not GpsFixQuality.Invalid && FixMode is not GpsFixMode.NoFix;
}
