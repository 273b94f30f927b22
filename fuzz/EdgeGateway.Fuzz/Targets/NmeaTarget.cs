using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Nmea;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// Serial bytes from a GPS: framed as the NMEA driver frames them (<see cref="LineFramer"/> with <c>$</c> as sync),
/// each line through <see cref="NmeaParser"/> and every sentence into a <see cref="GpsFixAccumulator"/>.
/// </summary>
public sealed class NmeaTarget : IFuzzTarget
{
    public string Name => "nmea";

    public void Run(ReadOnlySpan<byte> input)
    {
        var handler = new Handler();
        var framer = new LineFramer(NmeaParser.MaxLineLength, asciiOnly: true, syncByte: (byte)'$');
        framer.Push(input, handler);
        framer.Push("\r\n"u8, handler);
        Invariant.That(framer.Lines <= input.Length, "more lines than bytes");
    }

    internal static void CheckFix(GpsFix fix)
    {
        Invariant.InRange(fix.LatitudeDeg, -90, 90, "fix latitude");
        Invariant.InRange(fix.LongitudeDeg, -180, 180, "fix longitude");
        Invariant.Finite(fix.AltitudeMslM, "fix altitude");
        Invariant.InRange(fix.Hdop, 0, double.MaxValue, "fix hdop");
        Invariant.InRange(fix.Pdop, 0, double.MaxValue, "fix pdop");
        Invariant.InRange(fix.Vdop, 0, double.MaxValue, "fix vdop");
        Invariant.InRange(fix.SpeedMps, 0, double.MaxValue, "fix speed");
        Invariant.Finite(fix.CourseDeg, "fix course");
        Invariant.That(fix.SatellitesUsed is null or >= 0, "negative satellites used");
        Invariant.That(fix.SatellitesInView is null or >= 0, "negative satellites in view");
    }

    private sealed class Handler : ILineHandler
    {
        private readonly GpsFixAccumulator _accumulator = new();

        public void OnLine(ReadOnlySpan<byte> line)
        {
            Invariant.That(line.Length is > 0 and <= NmeaParser.MaxLineLength, $"framed line of {line.Length} bytes");
            var result = NmeaParser.Parse(line, out var s);
            Invariant.That(Enum.IsDefined(result), $"undefined result {result}");
            if (result != NmeaParseResult.Ok)
            {
                return;
            }

            Invariant.InRange(s.LatitudeDeg, -90, 90, "latitude");
            Invariant.InRange(s.LongitudeDeg, -180, 180, "longitude");
            Invariant.That(s.LatitudeDeg is null == s.LongitudeDeg is null, "half a position");
            Invariant.Finite(s.AltitudeMslM, "altitude");
            Invariant.Finite(s.GeoidSeparationM, "geoid separation");
            Invariant.InRange(s.Hdop, 0, double.MaxValue, "hdop");
            Invariant.InRange(s.SpeedKnots, 0, double.MaxValue, "speed");
            Invariant.InRange(s.CourseTrueDeg, 0, 360, "course");
            Invariant.That(s.UtcTime is null || (s.UtcTime >= TimeSpan.Zero && s.UtcTime < TimeSpan.FromHours(24) + TimeSpan.FromSeconds(2)), $"time {s.UtcTime}");
            Invariant.That(s.UsedSatelliteCount is >= 0 and <= 12, "used satellites over 12");
            Invariant.That(s.GsvSatelliteCount is >= 0 and <= 4, "GSV satellites over 4");
            for (var i = 0; i < s.GsvSatelliteCount; i++)
            {
                Invariant.That(s.GetGsvSatellite(i).Id >= 0, "negative satellite id");
            }

            if (_accumulator.Add(s) is { } fix)
            {
                CheckFix(fix);
            }
        }

        public void OnDropped(LineDropReason reason) => Invariant.That(Enum.IsDefined(reason), $"undefined drop {reason}");
    }
}
