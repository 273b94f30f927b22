using EdgeGateway.Sensors.Tfmini;

namespace EdgeGateway.Sensors.Drivers;

/// <summary>A Benewake TFmini / TFmini-S range finder (115200 8N1, 9-byte frames).</summary>
public sealed class TfminiDriver(TfminiModel model = TfminiModel.TfminiS) : StreamSensorDriver, ITfminiFrameHandler
{
    private readonly TfminiFrameDecoder _decoder = new(model);
    private ISensorSink? _sink;

    public override void Push(ReadOnlySpan<byte> data, ISensorSink sink)
    {
        _sink = sink;
        _decoder.Push(data, this);
    }

    protected override void Reset() => _decoder.Reset();

    void ITfminiFrameHandler.OnFrame(in TfminiFrame frame) => _sink!.OnReading(new RangeReading(frame));

    void ITfminiFrameHandler.OnBadChecksum() => _sink!.OnRejected("checksum_mismatch");
}
