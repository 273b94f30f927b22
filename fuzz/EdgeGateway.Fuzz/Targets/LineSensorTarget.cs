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

    private static readonly LineField[] Fields =
    [
        new("temperature", "°C"),
        new("humidity", "%"),
        new("status", Text: true),
    ];

    private static readonly LineSensorParser[] Parsers =
    [
        new(LineFormat.Json),
        new(LineFormat.Json, Fields),
        new(LineFormat.KeyValue),
        new(LineFormat.KeyValue, Fields),
        new(LineFormat.Csv, Fields),
        new(LineFormat.Csv, Fields, ';'),
    ];

    public string Name => "lines";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var handler = new Handler(Parsers[input[0] % Parsers.Length]);
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
