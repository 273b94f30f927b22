using System.Runtime.CompilerServices;

namespace EdgeGateway.Sensors.Nmea;

/// <summary>What <see cref="NmeaParser.Parse"/> made of one line. Everything but <see cref="Ok"/> is a rejection or an ignore.</summary>
public enum NmeaParseResult
{
    Ok = 0,
    Empty,
    /// <summary>Longer than the 82 characters (including <c>$</c> and CR LF) NMEA 0183 allows.</summary>
    TooLong,
    /// <summary>Does not start with <c>$</c>.</summary>
    NoStartDelimiter,
    /// <summary>Holds a byte outside printable ASCII.</summary>
    InvalidCharacter,
    /// <summary>No <c>*hh</c> checksum at the end (a truncated sentence, most often).</summary>
    MissingChecksum,
    /// <summary>A <c>*</c> not followed by exactly two hex digits at the end of the line.</summary>
    MalformedChecksum,
    ChecksumMismatch,
    /// <summary>The address field is not a two-letter talker plus a three-letter sentence type.</summary>
    MalformedAddress,
    /// <summary>A valid sentence from a talker this driver does not read (ignored, not an error).</summary>
    UnknownTalker,
    /// <summary>A valid sentence type this driver does not read, e.g. GLL, ZDA, TXT or proprietary (ignored, not an error).</summary>
    UnsupportedSentence,
    TooFewFields,
    /// <summary>A field that should be a number, a hemisphere, a time … is not.</summary>
    InvalidField,
}

public enum NmeaTalker
{
    /// <summary>GP: GPS.</summary>
    Gps = 0,
    /// <summary>GN: combined GNSS.</summary>
    Gnss,
    /// <summary>GL: GLONASS.</summary>
    Glonass,
    /// <summary>GA: Galileo.</summary>
    Galileo,
    /// <summary>BD (older) or GB (NMEA 4.11): BeiDou.</summary>
    BeiDou,
}

public enum NmeaSentenceType
{
    Gga = 0,
    Rmc,
    Vtg,
    Gsa,
    Gsv,
}

/// <summary>GGA fix quality indicator.</summary>
public enum GpsFixQuality
{
    Invalid = 0,
    Gps = 1,
    Dgps = 2,
    Pps = 3,
    RtkFixed = 4,
    RtkFloat = 5,
    Estimated = 6,
    Manual = 7,
    Simulated = 8,
}

/// <summary>GSA fix type: none, 2D or 3D.</summary>
public enum GpsFixMode
{
    NoFix = 1,
    Fix2D = 2,
    Fix3D = 3,
}

/// <summary>One satellite from a GSV sentence. Elevation, azimuth and SNR are empty when not tracked.</summary>
public readonly record struct GsvSatellite(int Id, int? ElevationDeg, int? AzimuthDeg, int? SnrDbHz);

[InlineArray(12)]
internal struct TwelveInts
{
    private int _element0;
}

[InlineArray(4)]
internal struct FourSatellites
{
    private GsvSatellite _element0;
}

/// <summary>
/// One parsed sentence. A struct with every field any of the supported sentences carries, so parsing
/// does not allocate; fields a sentence type does not have, or that were empty, are null.
/// </summary>
public struct NmeaSentence
{
    private TwelveInts _usedIds;
    private FourSatellites _satellites;

    public NmeaTalker Talker { get; internal set; }

    public NmeaSentenceType Type { get; internal set; }

    /// <summary>UTC time of day (GGA, RMC).</summary>
    public TimeSpan? UtcTime { get; internal set; }

    /// <summary>UTC date (RMC).</summary>
    public DateOnly? Date { get; internal set; }

    /// <summary>Degrees, north positive (GGA, RMC).</summary>
    public double? LatitudeDeg { get; internal set; }

    /// <summary>Degrees, east positive (GGA, RMC).</summary>
    public double? LongitudeDeg { get; internal set; }

    public GpsFixQuality? FixQuality { get; internal set; }

    public int? SatellitesUsed { get; internal set; }

    public double? Hdop { get; internal set; }

    public double? Pdop { get; internal set; }

    public double? Vdop { get; internal set; }

    /// <summary>Antenna altitude above mean sea level, metres (GGA).</summary>
    public double? AltitudeMslM { get; internal set; }

    /// <summary>Geoid separation (ellipsoid minus MSL), metres (GGA).</summary>
    public double? GeoidSeparationM { get; internal set; }

    /// <summary>RMC status: true for A (valid), false for V (warning).</summary>
    public bool? StatusValid { get; internal set; }

    /// <summary>RMC/VTG mode indicator (A autonomous, D differential, E estimated, N not valid …), when present.</summary>
    public char? ModeIndicator { get; internal set; }

    public double? SpeedKnots { get; internal set; }

    public double? SpeedKmh { get; internal set; }

    public double? CourseTrueDeg { get; internal set; }

    public double? CourseMagneticDeg { get; internal set; }

    /// <summary>Degrees, east positive (RMC).</summary>
    public double? MagneticVariationDeg { get; internal set; }

    /// <summary>GSA fix type.</summary>
    public GpsFixMode? FixMode { get; internal set; }

    /// <summary>GSA: how many satellite ids are listed as used in the solution.</summary>
    public int UsedSatelliteCount { get; private set; }

    /// <summary>GSV: total number of GSV sentences in this cycle.</summary>
    public int? GsvMessageCount { get; internal set; }

    /// <summary>GSV: number of this sentence within the cycle (1-based).</summary>
    public int? GsvMessageNumber { get; internal set; }

    /// <summary>GSV: satellites in view for this talker.</summary>
    public int? SatellitesInView { get; internal set; }

    /// <summary>GSV: how many satellites this sentence describes (0–4).</summary>
    public int GsvSatelliteCount { get; private set; }

    public readonly int GetUsedSatellite(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)UsedSatelliteCount, nameof(index));
        return _usedIds[index];
    }

    public readonly GsvSatellite GetGsvSatellite(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)GsvSatelliteCount, nameof(index));
        return _satellites[index];
    }

    internal void AddUsedSatellite(int id) => _usedIds[UsedSatelliteCount++] = id;

    internal void AddGsvSatellite(GsvSatellite satellite) => _satellites[GsvSatelliteCount++] = satellite;
}
