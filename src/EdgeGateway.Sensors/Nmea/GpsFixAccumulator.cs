namespace EdgeGateway.Sensors.Nmea;

/// <summary>
/// Joins the sentences of one receiver epoch into one <see cref="GpsFix"/>. An epoch is identified by
/// the UTC time of its GGA/RMC; it is complete as soon as both GGA and RMC for that time arrived, or
/// when a sentence with a new time starts the next epoch (receivers that send only one of the two).
/// GSA (fix mode, DOP), GSV (satellites in view) and VTG (speed, course) carry no time: their latest
/// values are attached to the epoch being built, so they may lag one epoch behind.
/// </summary>
public sealed class GpsFixAccumulator
{
    private TimeSpan? _epochTime;
    private bool _hasGga;
    private bool _hasRmc;
    private bool _emitted;
    private DateOnly? _date;
    private bool _rmcValid;
    private double? _lat;
    private double? _lon;
    private double? _alt;
    private GpsFixQuality? _quality;
    private int? _used;
    private double? _hdop;
    private double? _speedMps;
    private double? _course;

    // Sticky between epochs (sentences without a time of their own).
    private GpsFixMode? _mode;
    private double? _pdop;
    private double? _vdop;
    private double? _gsaHdop;
    private int? _gsaUsed;
    private readonly int?[] _inViewByTalker = new int?[5];
    private double? _vtgSpeedMps;
    private double? _vtgCourse;

    /// <summary>Adds one parsed sentence; returns a fix when an epoch completed.</summary>
    public GpsFix? Add(in NmeaSentence s)
    {
        GpsFix? completed = null;
        switch (s.Type)
        {
            case NmeaSentenceType.Gga or NmeaSentenceType.Rmc:
                if (_epochTime is { } current && s.UtcTime != current)
                {
                    if (!_emitted && (_hasGga || _hasRmc))
                    {
                        completed = Build();
                    }

                    StartEpoch();
                }

                _epochTime ??= s.UtcTime;
                if (s.Type == NmeaSentenceType.Gga)
                {
                    _hasGga = true;
                    _lat = s.LatitudeDeg ?? _lat;
                    _lon = s.LongitudeDeg ?? _lon;
                    _alt = s.AltitudeMslM;
                    _quality = s.FixQuality;
                    _used = s.SatellitesUsed;
                    _hdop = s.Hdop;
                }
                else
                {
                    _hasRmc = true;
                    _date = s.Date;
                    _rmcValid = s.StatusValid == true && s.ModeIndicator != 'N';
                    if (_lat is null || !_hasGga)
                    {
                        _lat = s.LatitudeDeg;
                        _lon = s.LongitudeDeg;
                    }

                    _speedMps = s.SpeedKnots is { } kn ? NmeaParser.KnotsToMps(kn) : null;
                    _course = s.CourseTrueDeg;
                }

                if (_hasGga && _hasRmc && !_emitted && completed is null)
                {
                    _emitted = true;
                    completed = Build();
                }

                break;
            case NmeaSentenceType.Gsa:
                // Multi-GNSS receivers send one GSA per constellation (NMEA 4.x). Fix mode and DOPs describe the
                // combined solution, so every GSA of an epoch repeats them and the latest is kept; its satellite
                // list covers one constellation only, which is why GGA's satellites-used count wins when present.
                _mode = s.FixMode;
                _pdop = s.Pdop;
                _vdop = s.Vdop;
                _gsaHdop = s.Hdop;
                _gsaUsed = s.SatellitesUsed;
                break;
            case NmeaSentenceType.Gsv:
                // A multi-GNSS receiver sends one GSV cycle per constellation (GP, GL, GA, BD): in view is their sum.
                _inViewByTalker[(int)s.Talker] = s.SatellitesInView;
                break;
            case NmeaSentenceType.Vtg:
                _vtgSpeedMps = s.SpeedKnots is { } knots ? NmeaParser.KnotsToMps(knots) : s.SpeedKmh / 3.6;
                _vtgCourse = s.CourseTrueDeg;
                break;
        }

        return completed;
    }

    private void StartEpoch()
    {
        _epochTime = null;
        _hasGga = _hasRmc = _emitted = false;
        _date = null;
        _rmcValid = false;
        _lat = _lon = _alt = null;
        _quality = null;
        _used = null;
        _hdop = null;
        _speedMps = _course = null;
    }

    private int? SatellitesInView()
    {
        int? total = null;
        foreach (var n in _inViewByTalker)
        {
            if (n is { } count)
            {
                total = (total ?? 0) + count;
            }
        }

        return total;
    }

    private GpsFix Build()
    {
        DateTimeOffset? utc = null;
        if (_date is { } date && _epochTime is { } time)
        {
            utc = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + time;
        }

        return new GpsFix
        {
            UtcTime = utc,
            TimeValid = utc is not null && _hasRmc && _rmcValid,
            LatitudeDeg = _lat,
            LongitudeDeg = _lon,
            AltitudeMslM = _alt,
            FixQuality = _quality ?? (_hasRmc ? (_rmcValid ? GpsFixQuality.Gps : GpsFixQuality.Invalid) : null),
            FixMode = _mode,
            SatellitesUsed = _used ?? _gsaUsed,
            SatellitesInView = SatellitesInView(),
            Hdop = _hdop ?? _gsaHdop,
            Pdop = _pdop,
            Vdop = _vdop,
            SpeedMps = _speedMps ?? _vtgSpeedMps,
            CourseDeg = _course ?? _vtgCourse,
        };
    }
}
