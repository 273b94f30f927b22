using EdgeGateway.Fuzz.Targets;

namespace EdgeGateway.Fuzz;

/// <summary>Every harness, by name.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<IFuzzTarget> All { get; } =
    [
        new TelloStateTarget(),
        new TelloReplyTarget(),
        new NmeaTarget(),
        new TfminiTarget(),
        new GpsdTarget(),
        new LineSensorTarget(),
        new MqttDecoderTarget(),
        new RelayFrameTarget(),
        new LocalApiMessageTarget(),
    ];

    public static IFuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
