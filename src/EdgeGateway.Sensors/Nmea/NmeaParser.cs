using System.Buffers.Text;

namespace EdgeGateway.Sensors.Nmea;

/// <summary>
/// NMEA 0183 parser for GGA, RMC, VTG, GSA and GSV from the GP, GN, GL, GA and BD/GB talkers.
/// Pure and allocation-free: it never throws on input, it answers with a <see cref="NmeaParseResult"/>.
/// </summary>
public static class NmeaParser
{
    /// <summary>NMEA 0183: at most 82 characters including the leading <c>$</c> and the closing CR LF.</summary>
    public const int MaxSentenceLength = 82;

    /// <summary>The longest line without CR LF that can be a valid sentence.</summary>
    public const int MaxLineLength = MaxSentenceLength - 2;

    private const double KnotsToMetresPerSecond = 1852.0 / 3600.0;

    /// <summary>Parses one line (with or without its CR LF).</summary>
    public static NmeaParseResult Parse(ReadOnlySpan<byte> line, out NmeaSentence sentence)
    {
        sentence = default;
        while (line.Length > 0 && line[^1] is (byte)'\r' or (byte)'\n')
        {
            line = line[..^1];
        }

        if (line.IsEmpty)
        {
            return NmeaParseResult.Empty;
        }

        if (line.Length > MaxLineLength)
        {
            return NmeaParseResult.TooLong;
        }

        if (line[0] != (byte)'$')
        {
            return NmeaParseResult.NoStartDelimiter;
        }

        foreach (var b in line)
        {
            if (b is < 0x20 or > 0x7E)
            {
                return NmeaParseResult.InvalidCharacter;
            }
        }

        var star = line.LastIndexOf((byte)'*');
        if (star < 0)
        {
            return NmeaParseResult.MissingChecksum;
        }

        if (star != line.Length - 3 || !TryHex(line[^2], out var hi) || !TryHex(line[^1], out var lo))
        {
            return NmeaParseResult.MalformedChecksum;
        }

        var body = line[1..star];
        byte sum = 0;
        foreach (var b in body)
        {
            sum ^= b;
        }

        if (sum != (hi << 4 | lo))
        {
            return NmeaParseResult.ChecksumMismatch;
        }

        var fields = new FieldReader(body);
        var address = fields.Next();
        if (address.Length > 0 && address[0] == (byte)'P')
        {
            return NmeaParseResult.UnsupportedSentence; // proprietary ($PUBX, $PMTK …)
        }

        if (address.Length != 5 || !IsUpperAlpha(address))
        {
            return NmeaParseResult.MalformedAddress;
        }

        NmeaTalker talker;
        switch ((char)address[0], (char)address[1])
        {
            case ('G', 'P'): talker = NmeaTalker.Gps; break;
            case ('G', 'N'): talker = NmeaTalker.Gnss; break;
            case ('G', 'L'): talker = NmeaTalker.Glonass; break;
            case ('G', 'A'): talker = NmeaTalker.Galileo; break;
            case ('B', 'D'):
            case ('G', 'B'): talker = NmeaTalker.BeiDou; break;
            default: return NmeaParseResult.UnknownTalker;
        }

        sentence.Talker = talker;
        var type = address[2..];
        if (type.SequenceEqual("GGA"u8))
        {
            sentence.Type = NmeaSentenceType.Gga;
            return ParseGga(ref fields, ref sentence);
        }

        if (type.SequenceEqual("RMC"u8))
        {
            sentence.Type = NmeaSentenceType.Rmc;
            return ParseRmc(ref fields, ref sentence);
        }

        if (type.SequenceEqual("VTG"u8))
        {
            sentence.Type = NmeaSentenceType.Vtg;
            return ParseVtg(ref fields, ref sentence);
        }

        if (type.SequenceEqual("GSA"u8))
        {
            sentence.Type = NmeaSentenceType.Gsa;
            return ParseGsa(ref fields, ref sentence);
        }

        if (type.SequenceEqual("GSV"u8))
        {
            sentence.Type = NmeaSentenceType.Gsv;
            return ParseGsv(ref fields, ref sentence);
        }

        return NmeaParseResult.UnsupportedSentence;
    }

    /// <summary>The XOR checksum of the characters between <c>$</c> and <c>*</c>, as NMEA computes it.</summary>
    public static byte Checksum(ReadOnlySpan<byte> body)
    {
        byte sum = 0;
        foreach (var b in body)
        {
            sum ^= b;
        }

        return sum;
    }

    public static double KnotsToMps(double knots) => knots * KnotsToMetresPerSecond;

    // $--GGA,hhmmss.ss,llll.ll,a,yyyyy.yy,a,q,nn,h.h,a.a,M,g.g,M,age,station*hh
    private static NmeaParseResult ParseGga(ref FieldReader f, ref NmeaSentence s)
    {
        if (f.Remaining < 14)
        {
            return NmeaParseResult.TooFewFields;
        }

        if (!TryTime(f.Next(), out var time) || !TryPosition(ref f, out var lat, out var lon))
        {
            return NmeaParseResult.InvalidField;
        }

        s.UtcTime = time;
        s.LatitudeDeg = lat;
        s.LongitudeDeg = lon;
        if (!TryOptionalInt(f.Next(), out var quality) || quality is < 0 or > 8)
        {
            return NmeaParseResult.InvalidField;
        }

        s.FixQuality = (GpsFixQuality?)quality;
        if (!TryOptionalInt(f.Next(), out var used) || used < 0
            || !TryOptionalDouble(f.Next(), out var hdop) || hdop < 0
            || !TryOptionalDouble(f.Next(), out var alt) || !TryUnit(f.Next(), (byte)'M')
            || !TryOptionalDouble(f.Next(), out var sep) || !TryUnit(f.Next(), (byte)'M'))
        {
            return NmeaParseResult.InvalidField;
        }

        s.SatellitesUsed = used;
        s.Hdop = hdop;
        s.AltitudeMslM = alt;
        s.GeoidSeparationM = sep;
        return NmeaParseResult.Ok;
    }

    // $--RMC,hhmmss.ss,A,llll.ll,a,yyyyy.yy,a,x.x,x.x,ddmmyy,x.x,a[,m[,s]]*hh
    private static NmeaParseResult ParseRmc(ref FieldReader f, ref NmeaSentence s)
    {
        if (f.Remaining < 11)
        {
            return NmeaParseResult.TooFewFields;
        }

        if (!TryTime(f.Next(), out var time))
        {
            return NmeaParseResult.InvalidField;
        }

        s.UtcTime = time;
        var status = f.Next();
        if (status.Length == 1 && status[0] is (byte)'A' or (byte)'V')
        {
            s.StatusValid = status[0] == (byte)'A';
        }
        else if (!status.IsEmpty)
        {
            return NmeaParseResult.InvalidField;
        }

        if (!TryPosition(ref f, out var lat, out var lon)
            || !TryOptionalDouble(f.Next(), out var knots) || knots < 0
            || !TryOptionalDouble(f.Next(), out var course) || course is < 0 or > 360
            || !TryDate(f.Next(), out var date)
            || !TryOptionalDouble(f.Next(), out var variation))
        {
            return NmeaParseResult.InvalidField;
        }

        var variationSide = f.Next();
        if (variation is not null)
        {
            if (variationSide.Length != 1 || variationSide[0] is not ((byte)'E' or (byte)'W'))
            {
                return NmeaParseResult.InvalidField;
            }

            s.MagneticVariationDeg = variationSide[0] == (byte)'W' ? -variation : variation;
        }

        if (f.Remaining > 0)
        {
            if (!TryMode(f.Next(), out var mode))
            {
                return NmeaParseResult.InvalidField;
            }

            s.ModeIndicator = mode;
        }

        s.LatitudeDeg = lat;
        s.LongitudeDeg = lon;
        s.SpeedKnots = knots;
        s.CourseTrueDeg = course;
        s.Date = date;
        return NmeaParseResult.Ok;
    }

    // $--VTG,x.x,T,x.x,M,x.x,N,x.x,K[,m]*hh (the letters may be empty in NMEA 2.x output)
    private static NmeaParseResult ParseVtg(ref FieldReader f, ref NmeaSentence s)
    {
        if (f.Remaining < 8)
        {
            return NmeaParseResult.TooFewFields;
        }

        if (!TryOptionalDouble(f.Next(), out var courseTrue) || courseTrue is < 0 or > 360 || !TryUnit(f.Next(), (byte)'T')
            || !TryOptionalDouble(f.Next(), out var courseMag) || courseMag is < 0 or > 360 || !TryUnit(f.Next(), (byte)'M')
            || !TryOptionalDouble(f.Next(), out var knots) || knots < 0 || !TryUnit(f.Next(), (byte)'N')
            || !TryOptionalDouble(f.Next(), out var kmh) || kmh < 0 || !TryUnit(f.Next(), (byte)'K'))
        {
            return NmeaParseResult.InvalidField;
        }

        if (f.Remaining > 0)
        {
            if (!TryMode(f.Next(), out var mode))
            {
                return NmeaParseResult.InvalidField;
            }

            s.ModeIndicator = mode;
        }

        s.CourseTrueDeg = courseTrue;
        s.CourseMagneticDeg = courseMag;
        s.SpeedKnots = knots;
        s.SpeedKmh = kmh;
        return NmeaParseResult.Ok;
    }

    // $--GSA,a,x,id × 12,pdop,hdop,vdop[,systemId]*hh
    private static NmeaParseResult ParseGsa(ref FieldReader f, ref NmeaSentence s)
    {
        if (f.Remaining < 17)
        {
            return NmeaParseResult.TooFewFields;
        }

        var selection = f.Next();
        if (selection.Length > 1 || (selection.Length == 1 && selection[0] is not ((byte)'A' or (byte)'M')))
        {
            return NmeaParseResult.InvalidField;
        }

        if (!TryOptionalInt(f.Next(), out var mode) || mode is < 1 or > 3)
        {
            return NmeaParseResult.InvalidField;
        }

        s.FixMode = (GpsFixMode?)mode;
        for (var i = 0; i < 12; i++)
        {
            if (!TryOptionalInt(f.Next(), out var id) || id < 0)
            {
                return NmeaParseResult.InvalidField;
            }

            if (id is { } used)
            {
                s.AddUsedSatellite(used);
            }
        }

        if (!TryOptionalDouble(f.Next(), out var pdop) || pdop < 0
            || !TryOptionalDouble(f.Next(), out var hdop) || hdop < 0
            || !TryOptionalDouble(f.Next(), out var vdop) || vdop < 0)
        {
            return NmeaParseResult.InvalidField;
        }

        s.Pdop = pdop;
        s.Hdop = hdop;
        s.Vdop = vdop;
        s.SatellitesUsed = s.UsedSatelliteCount;
        return NmeaParseResult.Ok;
    }

    // $--GSV,total,number,inView,{id,elev,az,snr} × 0..4[,signalId]*hh
    private static NmeaParseResult ParseGsv(ref FieldReader f, ref NmeaSentence s)
    {
        if (f.Remaining < 3)
        {
            return NmeaParseResult.TooFewFields;
        }

        if (!TryInt(f.Next(), out var total) || total < 1
            || !TryInt(f.Next(), out var number) || number < 1 || number > total
            || !TryInt(f.Next(), out var inView) || inView < 0)
        {
            return NmeaParseResult.InvalidField;
        }

        s.GsvMessageCount = total;
        s.GsvMessageNumber = number;
        s.SatellitesInView = inView;
        var groups = f.Remaining / 4;
        if (groups > 4 || f.Remaining % 4 > 1)
        {
            return NmeaParseResult.InvalidField;
        }

        for (var i = 0; i < groups; i++)
        {
            var idField = f.Next();
            if (!TryOptionalInt(f.Next(), out var elevation) || elevation is < -90 or > 90
                || !TryOptionalInt(f.Next(), out var azimuth) || azimuth is < 0 or > 360
                || !TryOptionalInt(f.Next(), out var snr) || snr is < 0 or > 99)
            {
                return NmeaParseResult.InvalidField;
            }

            if (idField.IsEmpty)
            {
                continue; // padding in the last sentence of a cycle
            }

            if (!TryInt(idField, out var id) || id < 0)
            {
                return NmeaParseResult.InvalidField;
            }

            s.AddGsvSatellite(new GsvSatellite(id, elevation, azimuth, snr));
        }

        return NmeaParseResult.Ok;
    }

    private static bool TryMode(ReadOnlySpan<byte> field, out char? mode)
    {
        mode = null;
        if (field.IsEmpty)
        {
            return true;
        }

        if (field.Length != 1 || field[0] is not ((byte)'A' or (byte)'D' or (byte)'E' or (byte)'F'
            or (byte)'M' or (byte)'N' or (byte)'P' or (byte)'R' or (byte)'S'))
        {
            return false;
        }

        mode = (char)field[0];
        return true;
    }

    private static bool TryPosition(ref FieldReader f, out double? latitude, out double? longitude)
    {
        latitude = longitude = null;
        return TryCoordinate(f.Next(), f.Next(), 2, 90, (byte)'N', (byte)'S', out latitude)
            && TryCoordinate(f.Next(), f.Next(), 3, 180, (byte)'E', (byte)'W', out longitude)
            && (latitude is null) == (longitude is null);
    }

    // ddmm.mmmm / dddmm.mmmm plus a hemisphere letter; both empty means "no position".
    private static bool TryCoordinate(ReadOnlySpan<byte> value, ReadOnlySpan<byte> side, int degreeDigits, int maxDegrees,
        byte positive, byte negative, out double? degrees)
    {
        degrees = null;
        if (value.IsEmpty)
        {
            return side.IsEmpty;
        }

        if (side.Length != 1 || (side[0] != positive && side[0] != negative) || value.Length < degreeDigits + 2)
        {
            return false;
        }

        if (!TryInt(value[..degreeDigits], out var whole) || !TryDouble(value[degreeDigits..], out var minutes)
            || minutes is < 0 or >= 60 || value[degreeDigits] is < (byte)'0' or > (byte)'9')
        {
            return false;
        }

        var result = whole + (minutes / 60.0);
        if (result > maxDegrees)
        {
            return false;
        }

        degrees = side[0] == negative ? -result : result;
        return true;
    }

    private static bool TryTime(ReadOnlySpan<byte> field, out TimeSpan? time)
    {
        time = null;
        if (field.IsEmpty)
        {
            return true;
        }

        if (field.Length < 6 || !TryInt(field[..2], out var h) || !TryInt(field[2..4], out var m)
            || !TryDouble(field[4..], out var sec) || h > 23 || m > 59 || sec is < 0 or >= 61)
        {
            return false;
        }

        time = new TimeSpan(0, h, m, 0) + TimeSpan.FromTicks((long)Math.Round(sec * TimeSpan.TicksPerSecond));
        return true;
    }

    private static bool TryDate(ReadOnlySpan<byte> field, out DateOnly? date)
    {
        date = null;
        if (field.IsEmpty)
        {
            return true;
        }

        if (field.Length != 6 || !TryInt(field[..2], out var d) || !TryInt(field[2..4], out var mo) || !TryInt(field[4..], out var y))
        {
            return false;
        }

        // Two-digit year: NMEA 0183 predates 2000; receivers in use today report 2000 onwards.
        var year = y < 80 ? 2000 + y : 1900 + y;
        if (mo is < 1 or > 12 || d < 1 || d > DateTime.DaysInMonth(year, mo))
        {
            return false;
        }

        date = new DateOnly(year, mo, d);
        return true;
    }

    // Some receivers leave a unit letter empty; the value's meaning is fixed by its position anyway.
    private static bool TryUnit(ReadOnlySpan<byte> field, byte unit) => field.IsEmpty || (field.Length == 1 && field[0] == unit);

    private static bool TryOptionalInt(ReadOnlySpan<byte> field, out int? value)
    {
        value = null;
        if (field.IsEmpty)
        {
            return true;
        }

        if (!TryInt(field, out var v))
        {
            return false;
        }

        value = v;
        return true;
    }

    private static bool TryOptionalDouble(ReadOnlySpan<byte> field, out double? value)
    {
        value = null;
        if (field.IsEmpty)
        {
            return true;
        }

        if (!TryDouble(field, out var v))
        {
            return false;
        }

        value = v;
        return true;
    }

    private static bool TryInt(ReadOnlySpan<byte> field, out int value)
    {
        value = 0;
        if (field.IsEmpty || field.Length > 9)
        {
            return false;
        }

        foreach (var b in field)
        {
            if (b is < (byte)'0' or > (byte)'9')
            {
                return false;
            }

            value = (value * 10) + (b - '0');
        }

        return true;
    }

    private static bool TryDouble(ReadOnlySpan<byte> field, out double value)
    {
        value = 0;
        if (field.IsEmpty)
        {
            return false;
        }

        // Plain decimal numbers only: no exponent, no "NaN"/"Infinity" that Utf8Parser would also accept.
        foreach (var b in field)
        {
            if (b is not ((>= (byte)'0' and <= (byte)'9') or (byte)'.' or (byte)'-' or (byte)'+'))
            {
                return false;
            }
        }

        return Utf8Parser.TryParse(field, out value, out var consumed) && consumed == field.Length;
    }

    private static bool TryHex(byte b, out int value)
    {
        value = b switch
        {
            >= (byte)'0' and <= (byte)'9' => b - '0',
            >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
            >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
            _ => -1,
        };
        return value >= 0;
    }

    private static bool IsUpperAlpha(ReadOnlySpan<byte> s)
    {
        foreach (var b in s)
        {
            if (b is < (byte)'A' or > (byte)'Z')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Walks comma-separated fields without allocating.</summary>
    private ref struct FieldReader
    {
        private ReadOnlySpan<byte> _rest;
        private bool _done;

        public FieldReader(ReadOnlySpan<byte> body)
        {
            _rest = body;
            Remaining = body.Count((byte)',') + 1;
        }

        /// <summary>Fields not yet read.</summary>
        public int Remaining { get; private set; }

        public ReadOnlySpan<byte> Next()
        {
            if (_done)
            {
                return default;
            }

            Remaining--;
            var comma = _rest.IndexOf((byte)',');
            ReadOnlySpan<byte> field;
            if (comma < 0)
            {
                field = _rest;
                _rest = default;
                _done = true;
            }
            else
            {
                field = _rest[..comma];
                _rest = _rest[(comma + 1)..];
            }

            return field;
        }
    }
}
