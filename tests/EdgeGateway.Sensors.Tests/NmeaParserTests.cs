using System.Text;
using EdgeGateway.Sensors.Nmea;

namespace EdgeGateway.Sensors.Tests;

public class NmeaParserTests
{
    private static NmeaParseResult Parse(string line, out NmeaSentence s) => NmeaParser.Parse(Encoding.ASCII.GetBytes(line), out s);

    /// <summary>Builds a sentence with a correct checksum.</summary>
    internal static string Sentence(string body)
    {
        var sum = NmeaParser.Checksum(Encoding.ASCII.GetBytes(body));
        return $"${body}*{sum:X2}";
    }

    [Fact]
    public void Gga_gives_time_position_quality_satellites_hdop_and_altitude()
    {
        var r = Parse("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47", out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(NmeaSentenceType.Gga, s.Type);
        Assert.Equal(NmeaTalker.Gps, s.Talker);
        Assert.Equal(new TimeSpan(12, 35, 19), s.UtcTime);
        Assert.Equal(48 + (7.038 / 60), s.LatitudeDeg!.Value, 9);
        Assert.Equal(11 + (31.0 / 60), s.LongitudeDeg!.Value, 9);
        Assert.Equal(GpsFixQuality.Gps, s.FixQuality);
        Assert.Equal(8, s.SatellitesUsed);
        Assert.Equal(0.9, s.Hdop);
        Assert.Equal(545.4, s.AltitudeMslM);
        Assert.Equal(46.9, s.GeoidSeparationM);
    }

    [Fact]
    public void Southern_and_western_hemispheres_are_negative()
    {
        var r = Parse(Sentence("GNGGA,010203.50,3352.1234,S,15112.5678,W,2,12,0.7,10.0,M,,M,,"), out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(NmeaTalker.Gnss, s.Talker);
        Assert.Equal(-(33 + (52.1234 / 60)), s.LatitudeDeg!.Value, 9);
        Assert.Equal(-(151 + (12.5678 / 60)), s.LongitudeDeg!.Value, 9);
        Assert.Equal(GpsFixQuality.Dgps, s.FixQuality);
        Assert.Equal(new TimeSpan(0, 1, 2, 3, 500), s.UtcTime);
        Assert.Null(s.GeoidSeparationM);
    }

    [Fact]
    public void Gga_without_fix_has_no_position_but_parses()
    {
        var r = Parse(Sentence("GPGGA,,,,,,0,00,99.99,,,,,,"), out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(GpsFixQuality.Invalid, s.FixQuality);
        Assert.Null(s.LatitudeDeg);
        Assert.Null(s.UtcTime);
        Assert.Equal(0, s.SatellitesUsed);
    }

    [Fact]
    public void Rmc_gives_status_date_speed_course_and_variation()
    {
        var r = Parse("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A", out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(NmeaSentenceType.Rmc, s.Type);
        Assert.True(s.StatusValid);
        Assert.Equal(new DateOnly(1994, 3, 23), s.Date);
        Assert.Equal(22.4, s.SpeedKnots);
        Assert.Equal(84.4, s.CourseTrueDeg);
        Assert.Equal(-3.1, s.MagneticVariationDeg);
        Assert.Null(s.ModeIndicator);
    }

    [Fact]
    public void Rmc_with_mode_indicator_and_warning_status()
    {
        var r = Parse(Sentence("GARMC,235959.99,V,,,,,,,311224,,,N"), out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(NmeaTalker.Galileo, s.Talker);
        Assert.False(s.StatusValid);
        Assert.Equal('N', s.ModeIndicator);
        Assert.Equal(new DateOnly(2024, 12, 31), s.Date);
        Assert.Null(s.LatitudeDeg);
    }

    [Fact]
    public void Vtg_gives_course_and_speed_in_knots_and_kmh()
    {
        var r = Parse("$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48", out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(54.7, s.CourseTrueDeg);
        Assert.Equal(34.4, s.CourseMagneticDeg);
        Assert.Equal(5.5, s.SpeedKnots);
        Assert.Equal(10.2, s.SpeedKmh);
    }

    [Fact]
    public void Gsa_gives_fix_mode_used_satellites_and_dops()
    {
        var r = Parse("$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39", out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(GpsFixMode.Fix3D, s.FixMode);
        Assert.Equal(5, s.UsedSatelliteCount);
        Assert.Equal([4, 5, 9, 12, 24], Enumerable.Range(0, s.UsedSatelliteCount).Select(s.GetUsedSatellite));
        Assert.Equal(2.5, s.Pdop);
        Assert.Equal(1.3, s.Hdop);
        Assert.Equal(2.1, s.Vdop);
    }

    [Fact]
    public void Gsv_gives_satellites_in_view_and_up_to_four_satellites()
    {
        var r = Parse("$GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45*75", out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(2, s.GsvMessageCount);
        Assert.Equal(1, s.GsvMessageNumber);
        Assert.Equal(8, s.SatellitesInView);
        Assert.Equal(4, s.GsvSatelliteCount);
        Assert.Equal(new GsvSatellite(1, 40, 83, 46), s.GetGsvSatellite(0));
        Assert.Equal(new GsvSatellite(14, 22, 228, 45), s.GetGsvSatellite(3));
    }

    [Fact]
    public void Gsv_with_untracked_satellite_and_nmea41_signal_id()
    {
        var r = Parse(Sentence("BDGSV,1,1,02,201,45,120,,202,10,300,33,1"), out var s);
        Assert.Equal(NmeaParseResult.Ok, r);
        Assert.Equal(NmeaTalker.BeiDou, s.Talker);
        Assert.Equal(2, s.GsvSatelliteCount);
        Assert.Null(s.GetGsvSatellite(0).SnrDbHz);
    }

    [Theory]
    [InlineData("GP", NmeaTalker.Gps)]
    [InlineData("GN", NmeaTalker.Gnss)]
    [InlineData("GL", NmeaTalker.Glonass)]
    [InlineData("GA", NmeaTalker.Galileo)]
    [InlineData("BD", NmeaTalker.BeiDou)]
    [InlineData("GB", NmeaTalker.BeiDou)]
    public void Every_supported_talker_is_recognised(string talker, NmeaTalker expected)
    {
        Assert.Equal(NmeaParseResult.Ok, Parse(Sentence(talker + "VTG,054.7,T,034.4,M,005.5,N,010.2,K"), out var s));
        Assert.Equal(expected, s.Talker);
    }

    [Fact]
    public void Checksum_accepts_lowercase_hex_and_trailing_crlf()
    {
        Assert.Equal(NmeaParseResult.Ok, Parse("$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6a\r\n", out _));
    }

    [Theory]
    [InlineData("", NmeaParseResult.Empty)]
    [InlineData("\r\n", NmeaParseResult.Empty)]
    [InlineData("GPGGA,123519,4807.038,N*00", NmeaParseResult.NoStartDelimiter)]
    [InlineData("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*48", NmeaParseResult.ChecksumMismatch)]
    [InlineData("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", NmeaParseResult.MissingChecksum)]
    [InlineData("$GPGGA,123519,4807.038,N,011", NmeaParseResult.MissingChecksum)]
    [InlineData("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4", NmeaParseResult.MalformedChecksum)]
    [InlineData("$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*4G", NmeaParseResult.MalformedChecksum)]
    [InlineData("$GPGGA,123519*47,N,01131.000", NmeaParseResult.MalformedChecksum)]
    public void Bad_framing_and_checksums_are_rejected(string line, NmeaParseResult expected)
    {
        Assert.Equal(expected, Parse(line, out _));
    }

    [Fact]
    public void Line_over_82_characters_is_rejected_even_with_valid_checksum()
    {
        var body = "GPTXT,01,01,02," + new string('A', 70);
        var line = Sentence(body);
        Assert.True(line.Length + 2 > NmeaParser.MaxSentenceLength);
        Assert.Equal(NmeaParseResult.TooLong, Parse(line, out _));
        var justFits = Sentence("GPTXT,01,01,02," + new string('A', 61));
        Assert.Equal(80, justFits.Length);
        Assert.Equal(NmeaParseResult.UnsupportedSentence, Parse(justFits, out _));
    }

    [Fact]
    public void Non_ascii_bytes_are_rejected()
    {
        var bytes = Encoding.ASCII.GetBytes(Sentence("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K"));
        bytes[10] = 0xC3;
        Assert.Equal(NmeaParseResult.InvalidCharacter, NmeaParser.Parse(bytes, out _));
        bytes[10] = 0x01;
        Assert.Equal(NmeaParseResult.InvalidCharacter, NmeaParser.Parse(bytes, out _));
    }

    [Theory]
    [InlineData("XXGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", NmeaParseResult.UnknownTalker)]
    [InlineData("GPZDA,201530.00,04,07,2002,00,00", NmeaParseResult.UnsupportedSentence)]
    [InlineData("GPGLL,4916.45,N,12311.12,W,225444,A", NmeaParseResult.UnsupportedSentence)]
    [InlineData("PUBX,00,081350.00,4717.113210,N", NmeaParseResult.UnsupportedSentence)]
    [InlineData("GPGG,123519", NmeaParseResult.MalformedAddress)]
    [InlineData("gpgga,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", NmeaParseResult.MalformedAddress)]
    public void Unknown_talkers_and_other_sentences_are_told_apart(string body, NmeaParseResult expected)
    {
        Assert.Equal(expected, Parse(Sentence(body), out _));
    }

    [Theory]
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9")]
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4")]
    [InlineData("GPVTG,054.7,T,034.4,M,005.5,N")]
    [InlineData("GPGSA,A,3,04,05,,09")]
    [InlineData("GPGSV,2,1")]
    public void Truncated_sentences_with_a_valid_checksum_have_too_few_fields(string body)
    {
        Assert.Equal(NmeaParseResult.TooFewFields, Parse(Sentence(body), out _));
    }

    [Theory]
    [InlineData("GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")] // minute 60
    [InlineData("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")] // hemisphere
    [InlineData("GPGGA,123519,9107.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")] // latitude > 90
    [InlineData("GPGGA,123519,4867.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")] // 67 minutes
    [InlineData("GPGGA,123519,4807.038,N,18131.000,E,1,08,0.9,545.4,M,46.9,M,,")] // longitude > 180
    [InlineData("GPGGA,123519,4807.038,N,,E,1,08,0.9,545.4,M,46.9,M,,")] // half a position
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,")] // quality 9
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,1,x8,0.9,545.4,M,46.9,M,,")] // satellites
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,5e2,M,46.9,M,,")] // exponent
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,1,08,NaN,545.4,M,46.9,M,,")]
    [InlineData("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,F,46.9,M,,")] // feet
    [InlineData("GPRMC,123519,Q,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W")] // status
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W")] // day 32
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,290223,003.1,W")] // 29 Feb 2023
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,-22.4,084.4,230394,003.1,W")] // negative speed
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,Q")] // variation side
    [InlineData("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W,Z")] // mode
    [InlineData("GPVTG,454.7,T,034.4,M,005.5,N,010.2,K")] // course > 360
    [InlineData("GPVTG,054.7,X,034.4,M,005.5,N,010.2,K")] // unit letter
    [InlineData("GPGSA,A,4,04,05,,09,12,,,24,,,,,2.5,1.3,2.1")] // fix type 4
    [InlineData("GPGSA,Q,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1")]
    [InlineData("GPGSV,2,3,08,01,40,083,46")] // message 3 of 2
    [InlineData("GPGSV,1,1,08,01,40,083,46,02,17")] // a group cut short
    [InlineData("GPGSV,1,1,08,01,95,083,46")] // elevation > 90
    public void Invalid_fields_are_rejected_not_thrown(string body)
    {
        Assert.Equal(NmeaParseResult.InvalidField, Parse(Sentence(body), out _));
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(1234);
        var buffer = new byte[100];
        for (var i = 0; i < 20000; i++)
        {
            var length = random.Next(0, buffer.Length);
            random.NextBytes(buffer.AsSpan(0, length));
            if (i % 3 == 0 && length > 0)
            {
                buffer[0] = (byte)'$';
            }

            _ = NmeaParser.Parse(buffer.AsSpan(0, length), out _);
        }

        // Mutations of a good sentence: every single-character change is caught (checksum) or still valid.
        var good = Sentence("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,");
        for (var pos = 1; pos < good.Length - 3; pos++)
        {
            var chars = good.ToCharArray();
            chars[pos] = chars[pos] == '1' ? '2' : '1';
            Assert.NotEqual(NmeaParseResult.Ok, Parse(new string(chars), out _));
        }
    }
}

public class GpsFixAccumulatorTests
{
    private static GpsFix? Add(GpsFixAccumulator acc, string body)
    {
        Assert.Equal(NmeaParseResult.Ok, NmeaParser.Parse(Encoding.ASCII.GetBytes(NmeaParserTests.Sentence(body)), out var s));
        return acc.Add(s);
    }

    [Fact]
    public void Epoch_completes_when_gga_and_rmc_of_the_same_time_arrived()
    {
        var acc = new GpsFixAccumulator();
        Assert.Null(Add(acc, "GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1"));
        Assert.Null(Add(acc, "GPGSV,1,1,04,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45"));
        Assert.Null(Add(acc, "GLGSV,1,1,02,65,40,083,46,66,17,308,41"));
        Assert.Null(Add(acc, "GPRMC,123519,A,4807.038,N,01131.000,E,010.0,084.4,230326,,,A"));
        Assert.Null(Add(acc, "GPVTG,084.4,T,,M,010.0,N,018.5,K,A"));
        var fix = Add(acc, "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,");
        Assert.NotNull(fix);
        Assert.True(fix.HasFix);
        Assert.True(fix.TimeValid);
        Assert.Equal(new DateTimeOffset(2026, 3, 23, 12, 35, 19, TimeSpan.Zero), fix.UtcTime);
        Assert.Equal(545.4, fix.AltitudeMslM);
        Assert.Equal(8, fix.SatellitesUsed);
        Assert.Equal(6, fix.SatellitesInView);
        Assert.Equal(GpsFixMode.Fix3D, fix.FixMode);
        Assert.Equal(10.0 * 1852 / 3600, fix.SpeedMps!.Value, 6);
        Assert.Equal(2.5, fix.Pdop);
        Assert.Null(Add(acc, "GPVTG,084.4,T,,M,010.0,N,018.5,K,A")); // the rest of the epoch does not emit twice
    }

    [Fact]
    public void Receiver_sending_only_gga_gets_each_epoch_when_the_next_begins()
    {
        var acc = new GpsFixAccumulator();
        Assert.Null(Add(acc, "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"));
        var first = Add(acc, "GPGGA,123520,4807.040,N,01131.000,E,1,08,0.9,545.5,M,46.9,M,,");
        Assert.NotNull(first);
        Assert.Equal(545.4, first.AltitudeMslM);
        Assert.Null(first.UtcTime); // no date without RMC
        Assert.False(first.TimeValid);
    }

    [Fact]
    public void Rmc_with_warning_status_gives_no_valid_time()
    {
        var acc = new GpsFixAccumulator();
        Assert.Null(Add(acc, "GPRMC,123519,V,,,,,,,230326,,,N"));
        var fix = Add(acc, "GPGGA,123519,,,,,0,00,99.99,,,,,,");
        Assert.NotNull(fix);
        Assert.False(fix.HasFix);
        Assert.False(fix.TimeValid);
        Assert.Equal(GpsFixQuality.Invalid, fix.FixQuality);
    }
}
