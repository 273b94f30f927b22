using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Nmea;

namespace EdgeGateway.Sensors.Drivers;

/// <summary>A GPS receiver speaking NMEA 0183: lines framed on <c>$</c> and CR/LF, parsed, joined into epochs.</summary>
public sealed class NmeaGpsDriver : StreamSensorDriver, ILineHandler
{
    private readonly LineFramer _framer = new(NmeaParser.MaxLineLength, asciiOnly: true, syncByte: (byte)'$');
    private GpsFixAccumulator _epochs = new();
    private ISensorSink? _sink;

    public override void Push(ReadOnlySpan<byte> data, ISensorSink sink)
    {
        _sink = sink;
        _framer.Push(data, this);
    }

    protected override void Reset()
    {
        _framer.Reset();
        _epochs = new GpsFixAccumulator();
    }

    void ILineHandler.OnLine(ReadOnlySpan<byte> line)
    {
        var result = NmeaParser.Parse(line, out var sentence);
        switch (result)
        {
            case NmeaParseResult.Ok:
                if (_epochs.Add(sentence) is { } fix)
                {
                    _sink!.OnReading(new GpsReading(fix, "nmea"));
                }

                break;
            case NmeaParseResult.Empty:
                break;
            case NmeaParseResult.UnsupportedSentence or NmeaParseResult.UnknownTalker:
                _sink!.OnIgnored(ReasonOf(result));
                break;
            default:
                _sink!.OnRejected(ReasonOf(result));
                break;
        }
    }

    void ILineHandler.OnDropped(LineDropReason reason) => _sink!.OnRejected(ReasonOf(reason));

    internal static string ReasonOf(LineDropReason reason) => reason switch
    {
        LineDropReason.TooLong => "line_too_long",
        LineDropReason.BinaryGarbage => "binary_garbage",
        _ => "truncated",
    };

    internal static string ReasonOf(NmeaParseResult result) => result switch
    {
        NmeaParseResult.TooLong => "line_too_long",
        NmeaParseResult.NoStartDelimiter => "no_start_delimiter",
        NmeaParseResult.InvalidCharacter => "binary_garbage",
        NmeaParseResult.MissingChecksum => "missing_checksum",
        NmeaParseResult.MalformedChecksum => "malformed_checksum",
        NmeaParseResult.ChecksumMismatch => "checksum_mismatch",
        NmeaParseResult.MalformedAddress => "malformed_address",
        NmeaParseResult.UnknownTalker => "unknown_talker",
        NmeaParseResult.UnsupportedSentence => "unsupported_sentence",
        NmeaParseResult.TooFewFields => "too_few_fields",
        NmeaParseResult.InvalidField => "invalid_field",
        _ => "empty",
    };
}
