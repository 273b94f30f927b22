using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Lines;

namespace EdgeGateway.Sensors.Drivers;

/// <summary>A board printing one line of values per measurement (JSON, key=value or CSV).</summary>
public sealed class LineSensorDriver(LineSensorParser parser, int maxLineLength = 512) : StreamSensorDriver, ILineHandler
{
    private readonly LineFramer _framer = new(maxLineLength, asciiOnly: false);
    private readonly List<SensorValue> _values = [];
    private ISensorSink? _sink;

    public override void Push(ReadOnlySpan<byte> data, ISensorSink sink)
    {
        _sink = sink;
        _framer.Push(data, this);
    }

    protected override void Reset() => _framer.Reset();

    void ILineHandler.OnLine(ReadOnlySpan<byte> line)
    {
        var result = parser.Parse(line, _values);
        switch (result)
        {
            case LineParseResult.Ok:
                _sink!.OnReading(new LineReading([.. _values]));
                break;
            case LineParseResult.Empty:
                break;
            default:
                _sink!.OnRejected(ReasonOf(result));
                break;
        }
    }

    void ILineHandler.OnDropped(LineDropReason reason) => _sink!.OnRejected(NmeaGpsDriver.ReasonOf(reason));

    internal static string ReasonOf(LineParseResult result) => result switch
    {
        LineParseResult.InvalidJson => "invalid_json",
        LineParseResult.NotJsonObject => "not_json_object",
        LineParseResult.MalformedPair => "malformed_pair",
        LineParseResult.ColumnCountMismatch => "column_count_mismatch",
        LineParseResult.InvalidNumber => "invalid_number",
        LineParseResult.WrongUnit => "wrong_unit",
        LineParseResult.MissingField => "missing_field",
        LineParseResult.NoValues => "no_values",
        _ => "empty",
    };
}
