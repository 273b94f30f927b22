using System.Buffers;
using EdgeGateway.Mqtt.Protocol;

namespace EdgeGateway.Mqtt.Tests;

public sealed class DecoderRobustnessTests
{
    private static readonly string[] Seeds =
    [
        "20 02 00 00", "20 09 01 00 06 22 00 0A 21 00 14", "32 0F 00 06 74 65 6C 65 2F 61 00 01 68 65 6C 6C 6F",
        "33 10 00 06 74 65 6C 65 2F 61 00 01 00 68 65 6C 6C 6F", "40 02 00 01", "40 03 00 01 10", "90 04 00 01 01 01",
        "D0 00", "E0 01 95", "40 07 00 01 97 03 1F 00 00", "30 0C 00 03 61 2F 62 06 26 00 01 6B 00 00",
    ];

    private static readonly string[] V5Seeds =
    [
        "20 03 00 00 00", "20 09 01 00 06 22 00 0A 21 00 14", "33 10 00 06 74 65 6C 65 2F 61 00 01 00 68 65 6C 6C 6F",
        "40 02 00 01", "40 03 00 01 10", "90 04 00 01 00 01", "D0 00", "E0 01 95", "40 07 00 01 97 03 1F 00 00",
        "30 0C 00 03 61 2F 62 06 26 00 01 6B 00 00",
    ];

    [Fact]
    public void A_v5_connack_without_its_property_length_is_malformed()
    {
        var seq = new ReadOnlySequence<byte>(Hex.Parse("20 02 00 00"));
        Assert.Equal(DecodeStatus.Error, MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V500, 0, out _, out var error));
        Assert.Equal(DecodeError.MalformedPacket, error);
    }

    [Theory]
    [InlineData("40 82 01 00 01", DecodeError.None, DecodeStatus.Incomplete)]
    [InlineData("42 02 00 01", DecodeError.InvalidFixedHeaderFlags, DecodeStatus.Error)]
    [InlineData("D1 00", DecodeError.InvalidFixedHeaderFlags, DecodeStatus.Error)]
    [InlineData("40 02 00 00", DecodeError.ProtocolError, DecodeStatus.Error)]
    [InlineData("36 05 00 01 61 00 01", DecodeError.ProtocolError, DecodeStatus.Error)]
    [InlineData("38 03 00 01 61", DecodeError.ProtocolError, DecodeStatus.Error)]
    [InlineData("30 03 00 01 23", DecodeError.ProtocolError, DecodeStatus.Error)]
    [InlineData("30 03 00 05 61", DecodeError.MalformedPacket, DecodeStatus.Error)]
    [InlineData("30 04 00 02 C0 80", DecodeError.InvalidUtf8, DecodeStatus.Error)]
    [InlineData("30 05 00 03 ED A0 80", DecodeError.InvalidUtf8, DecodeStatus.Error)]
    [InlineData("30 03 00 01 00", DecodeError.InvalidUtf8, DecodeStatus.Error)]
    [InlineData("10 00", DecodeError.UnexpectedPacketType, DecodeStatus.Error)]
    [InlineData("C0 00", DecodeError.UnexpectedPacketType, DecodeStatus.Error)]
    [InlineData("00 00", DecodeError.UnexpectedPacketType, DecodeStatus.Error)]
    [InlineData("20 03 00 00 00", DecodeError.MalformedPacket, DecodeStatus.Error)]
    [InlineData("20 02 02 00", DecodeError.ProtocolError, DecodeStatus.Error)]
    [InlineData("E0 00", DecodeError.UnexpectedPacketType, DecodeStatus.Error)]
    public void Malformed_311_packets_are_reported_not_thrown(string hex, DecodeError expectedError, DecodeStatus expectedStatus)
    {
        var seq = new ReadOnlySequence<byte>(Hex.Parse(hex));
        Assert.Equal(expectedStatus, MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V311, 0, out _, out var error));
        Assert.Equal(expectedError, error);
    }

    [Theory]
    [InlineData("20 09 00 00 06 21 00 14 21 00 14", DecodeError.DuplicateProperty)]
    [InlineData("20 06 00 00 03 7F 00 00", DecodeError.UnknownProperty)]
    [InlineData("20 06 00 00 03 21 00 00", DecodeError.ProtocolError)]
    [InlineData("20 05 00 00 05 21 00", DecodeError.MalformedPacket)]
    [InlineData("20 04 00 00 02 24", DecodeError.MalformedPacket)]
    [InlineData("20 05 00 00 02 24 02", DecodeError.ProtocolError)]
    [InlineData("E0 07 8B 05 11 00 00 00 01", DecodeError.ProtocolError)]
    [InlineData("30 08 00 01 61 03 23 00 01 00", DecodeError.ProtocolError)]
    [InlineData("F0 00", DecodeError.UnexpectedPacketType)]
    public void Malformed_50_packets_and_properties_are_reported(string hex, DecodeError expected)
    {
        var seq = new ReadOnlySequence<byte>(Hex.Parse(hex));
        Assert.Equal(DecodeStatus.Error, MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V500, 0, out _, out var error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void A_packet_over_our_maximum_is_rejected_as_soon_as_its_length_is_known()
    {
        var seq = new ReadOnlySequence<byte>(Hex.Parse("30 FF FF 03")); // 65,535 bytes announced, none present
        Assert.Equal(DecodeStatus.Error, MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V500, 4096, out _, out var error));
        Assert.Equal(DecodeError.PacketTooLarge, error);
    }

    [Fact]
    public void Byte_by_byte_delivery_gives_incomplete_until_the_last_byte()
    {
        foreach (var hex in V5Seeds)
        {
            var bytes = Hex.Parse(hex);
            for (var n = 0; n < bytes.Length; n++)
            {
                var part = new ReadOnlySequence<byte>(bytes, 0, n);
                Assert.Equal(DecodeStatus.Incomplete, MqttDecoder.TryDecode(ref part, MqttProtocolVersion.V500, 0, out _, out _));
                Assert.Equal(n, part.Length); // nothing consumed
            }
        }
    }

    [Fact]
    public void Packets_split_across_segments_decode_like_contiguous_ones()
    {
        var all = V5Seeds.SelectMany(Hex.Parse).ToArray();
        for (var split = 1; split < all.Length; split++)
        {
            var seq = Segments.Create(all.AsMemory(0, split), all.AsMemory(split));
            var count = 0;
            while (MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V500, 0, out _, out var error) == DecodeStatus.Complete)
            {
                count++;
                Assert.Equal(DecodeError.None, error);
            }

            Assert.Equal(V5Seeds.Length, count);
            Assert.True(seq.IsEmpty);
        }
    }

    [Fact]
    public void Fuzzed_input_never_throws_and_every_status_is_consistent()
    {
        // Seeded, bounded: mutations of valid packets plus pure noise, both protocol versions.
        var random = new Random(20261122);
        var seeds = Seeds.Select(Hex.Parse).ToArray();
        var outcomes = new int[3];
        for (var i = 0; i < 200_000; i++)
        {
            byte[] input;
            if (i % 4 == 0)
            {
                input = new byte[random.Next(0, 40)];
                random.NextBytes(input);
            }
            else
            {
                input = (byte[])seeds[random.Next(seeds.Length)].Clone();
                var mutations = random.Next(1, 4);
                for (var m = 0; m < mutations; m++)
                {
                    switch (random.Next(4))
                    {
                        case 0:
                            input[random.Next(input.Length)] = (byte)random.Next(256);
                            break;
                        case 1:
                            input[random.Next(input.Length)] ^= (byte)(1 << random.Next(8));
                            break;
                        case 2:
                            input = input[..random.Next(input.Length + 1)];
                            break;
                        default:
                            var extra = new byte[random.Next(1, 8)];
                            random.NextBytes(extra);
                            input = [.. input, .. extra];
                            break;
                    }

                    if (input.Length == 0)
                    {
                        break;
                    }
                }
            }

            var version = i % 2 == 0 ? MqttProtocolVersion.V500 : MqttProtocolVersion.V311;
            var seq = new ReadOnlySequence<byte>(input);
            var status = MqttDecoder.TryDecode(ref seq, version, 1 << 20, out var packet, out var error);
            outcomes[(int)status]++;
            switch (status)
            {
                case DecodeStatus.Complete:
                    Assert.Equal(DecodeError.None, error);
                    Assert.Equal(input.Length - seq.Length, packet.Size);
                    break;
                case DecodeStatus.Incomplete:
                    Assert.Equal(input.Length, seq.Length);
                    break;
                default:
                    Assert.NotEqual(DecodeError.None, error);
                    break;
            }
        }

        // The fuzzer must exercise all three outcomes, or it is not testing much.
        Assert.All(outcomes, count => Assert.True(count > 1000, string.Join(",", outcomes)));
    }

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(ReadOnlyMemory<byte> memory, long index)
        {
            Memory = memory;
            RunningIndex = index;
        }

        public static ReadOnlySequence<byte> Create(ReadOnlyMemory<byte> a, ReadOnlyMemory<byte> b)
        {
            var first = new Segments(a, 0);
            var second = new Segments(b, a.Length);
            first.Next = second;
            return new ReadOnlySequence<byte>(first, 0, second, b.Length);
        }
    }
}
