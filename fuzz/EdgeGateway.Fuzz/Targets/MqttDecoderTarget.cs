using System.Buffers;
using EdgeGateway.Mqtt;
using EdgeGateway.Mqtt.Protocol;

namespace EdgeGateway.Fuzz.Targets;

/// <summary>
/// Bytes from the broker into <see cref="MqttDecoder"/>, decoding packet after packet as the connection does. The
/// first byte picks the protocol version (bit 0), whether our 256 KiB maximum packet size applies (bit 1) and the
/// segment size of the <see cref="ReadOnlySequence{T}"/> (bits 2-7: 1 to 64 bytes, 64 = one segment), since
/// packets split across pipe segments are the reader's hard part.
/// </summary>
public sealed class MqttDecoderTarget : IFuzzTarget
{
    private const long MaxPacketSize = 256 * 1024;

    public string Name => "mqtt";

    public void Run(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }

        var version = (input[0] & 1) != 0 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;
        var limit = (input[0] & 2) != 0 ? MaxPacketSize : 0;
        var segment = (input[0] >> 2) + 1;
        var data = input[1..];
        var buffer = Segments(data, segment == 64 ? Math.Max(1, data.Length) : segment);
        var packets = 0;
        while (true)
        {
            var before = buffer.Length;
            var status = MqttDecoder.TryDecode(ref buffer, version, limit, out var packet, out var error);
            Invariant.That(Enum.IsDefined(status) && Enum.IsDefined(error), $"undefined {status}/{error}");
            if (status != DecodeStatus.Complete)
            {
                Invariant.That(buffer.Length == before, $"{status} consumed bytes");
                Invariant.That(status == DecodeStatus.Error == (error != DecodeError.None), $"{status} with error {error}");
                break;
            }

            packets++;
            Invariant.That(error == DecodeError.None, $"Complete with error {error}");
            Invariant.That(packet.Size >= 2 && before - buffer.Length == packet.Size, $"size {packet.Size}, consumed {before - buffer.Length}");
            Invariant.That(limit == 0 || packet.Size <= limit, "a packet over the maximum packet size");
            Invariant.That((packet.Payload?.Length ?? 0) < packet.Size, "payload longer than the packet");
            Invariant.That((packet.ReasonCodes?.Length ?? 0) < packet.Size, "more reason codes than bytes");
            if (packet.Type == MqttPacketType.Publish)
            {
                Invariant.That(!string.IsNullOrEmpty(packet.Topic) && packet.Topic.AsSpan().IndexOfAny('+', '#') < 0, "invalid topic accepted");
                Invariant.That((byte)packet.Qos <= 2, "QoS 3 accepted");
                Invariant.That(packet.Qos == MqttQualityOfService.AtMostOnce || packet.PacketId != 0, "packet id 0 accepted");
            }

            Invariant.That(packets <= data.Length / 2, "more packets than the bytes hold");
        }
    }

    // Slices of one copy: the segments cost one small object each, not an array each.
    private static ReadOnlySequence<byte> Segments(ReadOnlySpan<byte> data, int size)
    {
        var copy = data.ToArray();
        if (copy.Length <= size)
        {
            return new ReadOnlySequence<byte>(copy);
        }

        var first = new Segment(copy.AsMemory(0, size), 0);
        var last = first;
        for (var offset = size; offset < copy.Length; offset += size)
        {
            last = last.Append(copy.AsMemory(offset, Math.Min(size, copy.Length - offset)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
