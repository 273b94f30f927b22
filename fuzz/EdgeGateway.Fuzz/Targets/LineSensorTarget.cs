using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Lines;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// A line sensor's serial bytes: framed as the line-sensor driver frames them, each line through a
/// <see cref="LineSensorParser"/>. The first byte picks the format and whether fields are configured.
/// </summary>
public sealed class LineSensorTarget : IFuzzTarget
{
    private const int MaxLineLength = 512; // the configuration default (16-4096 allowed)

    public string Name => "lines";

    // Built per input, not in a static initialiser: instrumented code must not run before SharpFuzz attaches to afl.
    private static LineSensorParser ParserFor(byte selector)
    {
        LineField[] fields = [new("temperature", "°C"), new("humidity", "%"), new("status", Text: true)];
        return (selector % 6) switch
        {
            0 => new LineSensorParser(LineFormat.Json),
            1 => new LineSensorParser(LineFormat.Json, fields),
            2 => new LineSensorParser(LineFormat.KeyValue),
            3 => new LineSensorParser(LineFormat.KeyValue, fields),
            4 => new LineSensorParser(LineFormat.Csv, fields),
            _ => new LineSensorParser(LineFormat.Csv, fields, ';'),
        };
    }

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var handler = new Handler(ParserFor(input[0]));
        var framer = new LineFramer(MaxLineLength, asciiOnly: false);
        framer.Push(input[1..], handler);
        framer.Push("\n"u8, handler);
    }

    private sealed class Handler(LineSensorParser parser) : ILineHandler
    {
        private readonly List<SensorValue> _values = [];

        public void OnLine(ReadOnlySpan<byte> line)
        {
            var result = parser.Parse(line, _values);
            Invariant.That(Enum.IsDefined(result), $"undefined result {result}");
            Invariant.That(result == LineParseResult.Ok ? _values.Count > 0 : _values.Count == 0, $"{result} with {_values.Count} values");
            Invariant.That(_values.Count <= LineSensorParser.MaxValues, "more values than MaxValues");
            foreach (var v in _values)
            {
                Invariant.That(v.Number is null != v.Text is null, $"{v.Key}: not exactly one of number and text");
                Invariant.Finite(v.Number, v.Key);
                Invariant.That(v.Key.Length <= (2 * LineSensorParser.MaxKeyLength) + 16, $"key of {v.Key.Length} chars");
            }
        }

        public void OnDropped(LineDropReason reason) => Invariant.That(Enum.IsDefined(reason), $"undefined drop {reason}");
    }
}
