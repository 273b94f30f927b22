using EdgeGateway.Sensors.Tfmini;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// Serial bytes from a TFmini into <see cref="TfminiFrameDecoder"/>. The first byte picks the model and how the
/// stream is cut into reads (1 to 32 bytes each), since frames split across reads are the decoder's hard part.
/// </summary>
public sealed class TfminiTarget : IFuzzTarget
{
    public string Name => "tfmini";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var model = (input[0] & 0x80) != 0 ? TfminiModel.Tfmini : TfminiModel.TfminiS;
        var chunk = (input[0] & 0x1F) + 1;
        var data = input[1..];
        var decoder = new TfminiFrameDecoder(model);
        var handler = new Handler(model);
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            decoder.Push(data.Slice(offset, Math.Min(chunk, data.Length - offset)), handler);
        }

        Invariant.That(decoder.Frames == handler.Frames, "Frames disagrees with the frames delivered");
        Invariant.That(decoder.BadChecksums == handler.BadChecksums, "BadChecksums disagrees with the calls");
        Invariant.That(decoder.Frames * TfminiFrameDecoder.FrameLength <= data.Length, "more frames than the bytes hold");
        Invariant.That(decoder.SkippedBytes >= 0 && decoder.SkippedBytes <= data.Length, $"skipped {decoder.SkippedBytes} of {data.Length} bytes");
    }

    private sealed class Handler(TfminiModel model) : ITfminiFrameHandler
    {
        public long Frames { get; private set; }

        public long BadChecksums { get; private set; }

        public void OnFrame(in TfminiFrame frame)
        {
            Frames++;
            Invariant.That(frame.DistanceCm is >= 0 and <= 0xFFFF, $"distance {frame.DistanceCm}");
            Invariant.That(frame.Strength is >= 0 and <= 0xFFFF, $"strength {frame.Strength}");
            Invariant.That(model == TfminiModel.TfminiS ? frame.TemperatureC is not null : frame.TemperatureC is null, "temperature for the wrong model");
            Invariant.InRange(frame.TemperatureC, -256, 8192 - 256, "temperature");
        }

        public void OnBadChecksum() => BadChecksums++;
    }
}
