using System.Globalization;
using System.Text;

namespace EdgeGateway.Simulator.Serial;

/// <summary>Where the simulated vehicle is, relative to its take-off point, in centimetres (north, east, up).</summary>
public interface IPositionSource
{
    (double NorthCm, double EastCm, double HeightCm) GetPosition();
}

/// <summary>Adapts a delegate (e.g. one reading the simulated Tello's XCm/YCm/HeightCm) to <see cref="IPositionSource"/>.</summary>
public sealed class DelegatePositionSource(Func<(double NorthCm, double EastCm, double HeightCm)> position) : IPositionSource
{
    public (double NorthCm, double EastCm, double HeightCm) GetPosition() => position();
}

/// <summary>
/// A GPS receiver's NMEA 0183 output (RMC, VTG, GGA, GSA, GSV at 1 Hz, talker GP) for a track that
/// follows a position source around an origin. Written independently of the gateway's parser, so the
/// two check each other.
/// </summary>
public sealed class SimulatedGps(IPositionSource position, double originLatDeg = 47.397742, double originLonDeg = 8.545594,
    double originAltM = 488.0)
{
    private const double EarthRadiusM = 6378137.0;
    private static readonly int[] SatelliteIds = [2, 5, 12, 15, 18, 21, 24, 25, 29];
    private (double N, double E)? _previous;
    private DateTimeOffset _previousTime;

    public double OriginLatDeg => originLatDeg;

    public double OriginLonDeg => originLonDeg;

    /// <summary>The sentences of one epoch, each with its checksum and CR LF.</summary>
    public IReadOnlyList<string> Epoch(DateTimeOffset utc)
    {
        var (northCm, eastCm, heightCm) = position.GetPosition();
        var northM = northCm / 100.0;
        var eastM = eastCm / 100.0;
        var lat = originLatDeg + (northM / EarthRadiusM * 180.0 / Math.PI);
        var lon = originLonDeg + (eastM / (EarthRadiusM * Math.Cos(originLatDeg * Math.PI / 180.0)) * 180.0 / Math.PI);
        var alt = originAltM + (heightCm / 100.0);

        double speedMps = 0, course = 0;
        if (_previous is { } p && utc > _previousTime)
        {
            var dn = northM - p.N;
            var de = eastM - p.E;
            speedMps = Math.Sqrt((dn * dn) + (de * de)) / (utc - _previousTime).TotalSeconds;
            course = speedMps > 0.05 ? (Math.Atan2(de, dn) * 180.0 / Math.PI + 360.0) % 360.0 : 0;
        }

        _previous = (northM, eastM);
        _previousTime = utc;
        var knots = speedMps * 3600.0 / 1852.0;
        var time = utc.ToString("HHmmss.ff", CultureInfo.InvariantCulture);
        var date = utc.ToString("ddMMyy", CultureInfo.InvariantCulture);
        var latText = Coordinate(Math.Abs(lat), 2) + (lat >= 0 ? ",N" : ",S");
        var lonText = Coordinate(Math.Abs(lon), 3) + (lon >= 0 ? ",E" : ",W");
        var used = string.Join(",", SatelliteIds.Select(i => i.ToString("00", CultureInfo.InvariantCulture)));
        var sentences = new List<string>
        {
            Sentence($"GPRMC,{time},A,{latText},{lonText},{F(knots, 3)},{F(course, 2)},{date},2.1,E,A"),
            Sentence($"GPVTG,{F(course, 2)},T,,M,{F(knots, 3)},N,{F(speedMps * 3.6, 3)},K,A"),
            Sentence($"GPGGA,{time},{latText},{lonText},1,{SatelliteIds.Length:00},0.9,{F(alt, 1)},M,47.4,M,,"),
            Sentence($"GPGSA,A,3,{used},,,,1.6,0.9,1.3"),
        };
        // 12 satellites in view: three GSV sentences of four.
        int[] inView = [.. SatelliteIds, 30, 31, 32];
        for (var page = 0; page < 3; page++)
        {
            var sb = new StringBuilder($"GPGSV,3,{page + 1},{inView.Length}");
            for (var k = 0; k < 4; k++)
            {
                var id = inView[(page * 4) + k];
                sb.Append(CultureInfo.InvariantCulture, $",{id:00},{(id * 7) % 80 + 5:00},{(id * 37) % 360:000},{(id < 30 ? 30 + (id % 15) : 0):00}");
            }

            sentences.Add(Sentence(sb.ToString()));
        }

        return sentences;
    }

    /// <summary>Wraps a body in <c>$</c>, <c>*hh</c> and CR LF.</summary>
    public static string Sentence(string body)
    {
        var sum = 0;
        foreach (var c in body)
        {
            sum ^= c;
        }

        return $"${body}*{sum:X2}\r\n";
    }

    private static string Coordinate(double degrees, int degreeDigits)
    {
        var whole = (int)degrees;
        var minutes = (degrees - whole) * 60.0;
        if (Math.Round(minutes, 5) >= 60.0)
        {
            whole++;
            minutes = 0;
        }

        return whole.ToString(new string('0', degreeDigits), CultureInfo.InvariantCulture)
            + minutes.ToString("00.00000", CultureInfo.InvariantCulture);
    }

    private static string F(double value, int decimals) => value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
}
