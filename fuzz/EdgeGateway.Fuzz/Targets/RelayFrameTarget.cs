using EdgeGateway.Upstream.Relay;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>A text frame from the relay receiver (an ack or another control message) into <see cref="RelayFrameParser"/>.</summary>
public sealed class RelayFrameTarget : IFuzzTarget
{
    public string Name => "relay";

    public void Run(ReadOnlySpan<byte> input)
    {
        var kind = RelayFrameParser.Parse(input, out var sequence, out var error);
        Invariant.That(Enum.IsDefined(kind), $"undefined kind {kind}");
        Invariant.That(kind is RelayFrameKind.Ack or RelayFrameKind.Ignored == error is null, $"{kind} with error \"{error}\"");
        Invariant.That(kind == RelayFrameKind.Ack || sequence == 0, $"{kind} with a sequence");
    }
}
