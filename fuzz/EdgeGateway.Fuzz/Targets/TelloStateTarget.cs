using EdgeGateway.Drones.Tello;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>A UDP datagram on the state port (8890) into <see cref="StateDatagramParser"/>.</summary>
public sealed class TelloStateTarget : IFuzzTarget
{
    public string Name => "tello-state";

    public void Run(ReadOnlySpan<byte> input)
    {
        var result = StateDatagramParser.TryParse(input, out var state);
        Invariant.That(Enum.IsDefined(result), $"undefined result {result}");
        if (result != StateParseResult.Ok)
        {
            Invariant.That(state is null, "a rejected datagram produced a state");
            return;
        }

        Invariant.That(state is not null, "Ok without a state");
        Invariant.That(input.Length <= StateDatagramParser.MaxDatagramBytes, "an oversize datagram was accepted");
        Invariant.That(state!.Raw.Length <= input.Length, "Raw is longer than the datagram");
        Invariant.Finite(state.Barometer, "baro");
        Invariant.Finite(state.AccelX, "agx");
        Invariant.Finite(state.AccelY, "agy");
        Invariant.Finite(state.AccelZ, "agz");
        Invariant.That(state.UnknownKeys is null || state.UnknownKeys.Count <= input.Length / 2, "more unknown keys than items");
    }
}
