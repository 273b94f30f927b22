using EdgeGateway.Drones;
using EdgeGateway.Drones.Tello;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// A UDP datagram on the command port (8889): decoded as the fleet does (<see cref="TelloText"/>), then classified and
/// matched against a command by <see cref="ReplyParser"/>. The first byte picks the command (a read, or takeoff).
/// </summary>
public sealed class TelloReplyTarget : IFuzzTarget
{
    private static readonly TelloRead[] Reads = Enum.GetValues<TelloRead>();

    public string Name => "tello-reply";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var selector = input[0];
        if (!TelloText.TryDecode(input[1..], out var reply) || reply.Length == 0)
        {
            return; // counted as binary by the fleet
        }

        var cls = ReplyParser.Classify(reply);
        Invariant.That(Enum.IsDefined(cls), $"undefined class {cls}");
        _ = ReplyParser.IsSerialNumber(reply);

        var command = selector % (Reads.Length + 1) == Reads.Length
            ? TelloCommand.Takeoff
            : TelloCommand.ReadOf(Reads[selector % (Reads.Length + 1)]);
        var match = ReplyParser.Match(command, reply, out var values);
        Invariant.That(Enum.IsDefined(match), $"undefined match {match}");
        Invariant.That(match == ReplyMatch.Success || values is null, "values on a failed match");
        if (command.Kind == TelloCommandKind.Read && match == ReplyMatch.Success)
        {
            Invariant.That(values is not null, "a successful read without values");
        }

        foreach (var read in Reads)
        {
            if (ReplyParser.TryParseRead(read, reply, out var parsed))
            {
                Invariant.That(parsed is not null && parsed.Count <= 3, $"{read}: values missing or more than 3");
                foreach (var (key, value) in parsed!)
                {
                    Invariant.Finite(value, $"{read}.{key}");
                }

                if (read == TelloRead.Battery)
                {
                    Invariant.InRange(parsed["battery"], 0, 100, "battery");
                }
            }
            else
            {
                Invariant.That(parsed is null, $"{read}: values on a failed parse");
            }
        }
    }
}
