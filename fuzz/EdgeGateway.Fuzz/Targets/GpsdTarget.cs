using EdgeGateway.Sensors.Framing;
using EdgeGateway.Sensors.Gpsd;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>gpsd's TCP stream: framed as <see cref="GpsdDriver"/> frames it, each line through one <see cref="GpsdReportParser"/>.</summary>
public sealed class GpsdTarget : IFuzzTarget
{
    // The driver keeps one framer (a 64 KiB line buffer) per connection and resets it on reconnect; so does the
    // harness, so the per-input allocation measured by the corpus test is the parser's. Created on first use, not in
    // the constructor: instrumented code must not run before SharpFuzz attaches to afl.
    private LineFramer? _framer;

    public string Name => "gpsd";

    public void Run(ReadOnlySpan<byte> input)
    {
        var handler = new Handler();
        var framer = _framer ??= new LineFramer(GpsdDriver.MaxReportLength, asciiOnly: false);
        framer.Reset();
        framer.Push(input, handler);
        framer.Push("\n"u8, handler);
    }

    private sealed class Handler : ILineHandler
    {
        private readonly GpsdReportParser _parser = new();

        public void OnLine(ReadOnlySpan<byte> line)
        {
            var result = _parser.Parse(line, out var fix);
            Invariant.That(Enum.IsDefined(result), $"undefined result {result}");
            Invariant.That(result == GpsdReportResult.Position == fix is not null, $"{result} with fix {fix is not null}");
            if (fix is not null)
            {
                NmeaTarget.CheckFix(fix);
            }
        }

        public void OnDropped(LineDropReason reason) => Invariant.That(Enum.IsDefined(reason), $"undefined drop {reason}");
    }
}
