using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Sensors.Framing;

namespace EdgeGateway.Sensors.Gpsd;

/// <summary>Reads gpsd's JSON stream (after <c>?WATCH</c>) and produces the same <see cref="GpsReading"/>s as the NMEA driver.</summary>
public sealed class GpsdDriver : StreamSensorDriver, ILineHandler
{
    /// <summary>gpsd's longest reports (SKY with many satellites) stay well below this.</summary>
    public const int MaxReportLength = 64 * 1024;

    /// <summary>What to send after connecting: JSON reports, no raw NMEA.</summary>
    public static ReadOnlyMemory<byte> WatchCommand { get; } = "?WATCH={\"enable\":true,\"json\":true};\n"u8.ToArray();

    private readonly LineFramer _framer = new(MaxReportLength, asciiOnly: false);
    private GpsdReportParser _parser = new();
    private ISensorSink? _sink;

    public override void Push(ReadOnlySpan<byte> data, ISensorSink sink)
    {
        _sink = sink;
        _framer.Push(data, this);
    }

    protected override void Reset()
    {
        _framer.Reset();
        _parser = new GpsdReportParser();
    }

    void ILineHandler.OnLine(ReadOnlySpan<byte> line)
    {
        switch (_parser.Parse(line, out var fix))
        {
            case GpsdReportResult.Position:
                _sink!.OnReading(new GpsReading(fix!, "gpsd"));
                break;
            case GpsdReportResult.Sky:
                break;
            case GpsdReportResult.Ignored:
                _sink!.OnIgnored("gpsd_report");
                break;
            case GpsdReportResult.GpsdError:
                _sink!.OnRejected("gpsd_error");
                break;
            case GpsdReportResult.InvalidJson:
                _sink!.OnRejected("invalid_json");
                break;
            default:
                _sink!.OnRejected("invalid_report");
                break;
        }
    }

    void ILineHandler.OnDropped(LineDropReason reason) => _sink!.OnRejected(NmeaGpsDriver.ReasonOf(reason));
}
