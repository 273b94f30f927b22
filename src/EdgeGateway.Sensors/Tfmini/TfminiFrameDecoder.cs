namespace EdgeGateway.Sensors.Tfmini;

/// <summary>Which Benewake model: the TFmini-S reports chip temperature in bytes 6–7, the original TFmini does not.</summary>
public enum TfminiModel
{
    TfminiS = 0,
    Tfmini = 1,
}

/// <summary>One measurement frame.</summary>
/// <param name="DistanceCm">Distance in centimetres (the factory default unit).</param>
/// <param name="Strength">Signal strength; below 100 or 65535 (saturated) the distance is unreliable.</param>
/// <param name="TemperatureC">Chip temperature in °C (TFmini-S only).</param>
public readonly record struct TfminiFrame(int DistanceCm, int Strength, double? TemperatureC)
{
    /// <summary>The datasheet's rule: a measurement is trustworthy for 100 ≤ strength &lt; 65535 and a distance that is not the 0xFFFF marker.</summary>
    public bool IsReliable => Strength is >= 100 and < 65535 && DistanceCm is > 0 and < 0xFFFF;
}

/// <summary>Receives decoded frames; an interface so decoding does not allocate.</summary>
public interface ITfminiFrameHandler
{
    void OnFrame(in TfminiFrame frame);

    void OnBadChecksum();
}

/// <summary>
/// Decodes the TFmini's 9-byte frames: <c>0x59 0x59 distL distH strengthL strengthH b6 b7 checksum</c>, the
/// checksum being the low byte of the sum of the first eight. Streaming: frames may be split across reads,
/// and after a bad checksum or a start in the middle of a frame it resynchronises on the next
/// <c>0x59 0x59</c> within the bytes already received, rather than discarding a whole frame's worth.
/// </summary>
public sealed class TfminiFrameDecoder(TfminiModel model = TfminiModel.TfminiS)
{
    public const int FrameLength = 9;
    public const byte Header = 0x59;

    private readonly byte[] _buffer = new byte[FrameLength];
    private int _count;

    public long Frames { get; private set; }

    public long BadChecksums { get; private set; }

    /// <summary>Bytes skipped while looking for a header.</summary>
    public long SkippedBytes { get; private set; }

    public void Push(ReadOnlySpan<byte> data, ITfminiFrameHandler handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        foreach (var b in data)
        {
            if (_count < 2 && b != Header)
            {
                SkippedBytes += _count + 1;
                _count = 0;
                continue;
            }

            _buffer[_count++] = b;
            if (_count < FrameLength)
            {
                continue;
            }

            byte sum = 0;
            for (var i = 0; i < FrameLength - 1; i++)
            {
                sum += _buffer[i];
            }

            if (sum == _buffer[FrameLength - 1])
            {
                Frames++;
                _count = 0;
                handler.OnFrame(Decode(_buffer, model));
                continue;
            }

            BadChecksums++;
            handler.OnBadChecksum();
            Resynchronise();
        }
    }

    public void Reset() => _count = 0;

    internal static TfminiFrame Decode(ReadOnlySpan<byte> frame, TfminiModel model)
    {
        var distance = frame[2] | (frame[3] << 8);
        var strength = frame[4] | (frame[5] << 8);
        double? temperature = model == TfminiModel.TfminiS ? ((frame[6] | (frame[7] << 8)) / 8.0) - 256.0 : null;
        return new TfminiFrame(distance, strength, temperature);
    }

    // Keep the longest tail that could still start a frame: the first later position holding 0x59 0x59
    // (or a lone 0x59 as the very last byte).
    private void Resynchronise()
    {
        for (var start = 1; start < FrameLength; start++)
        {
            if (_buffer[start] == Header && (start == FrameLength - 1 || _buffer[start + 1] == Header))
            {
                _buffer.AsSpan(start, FrameLength - start).CopyTo(_buffer);
                _count = FrameLength - start;
                SkippedBytes += start;
                return;
            }
        }

        SkippedBytes += FrameLength;
        _count = 0;
    }
}
