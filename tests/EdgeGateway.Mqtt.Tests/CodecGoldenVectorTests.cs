using System.Buffers;
using System.Text;
using EdgeGateway.Mqtt.Protocol;

namespace EdgeGateway.Mqtt.Tests;

/// <summary>Reference §1.J: byte-exact vectors captured from libmosquitto 2.0.11 against mosquitto 2.0.11.</summary>
public sealed class CodecGoldenVectorTests
{
    [Theory]
    [InlineData(0, "00")]
    [InlineData(127, "7F")]
    [InlineData(128, "8001")]
    [InlineData(16383, "FF7F")]
    [InlineData(16384, "808001")]
    [InlineData(2097151, "FFFF7F")]
    [InlineData(2097152, "80808001")]
    [InlineData(268435455, "FFFFFF7F")]
    public void Variable_byte_integer_matches_the_spec_table_both_ways(int value, string hex)
    {
        var span = new byte[4];
        var n = VariableByteInteger.Write(span, value);
        Assert.Equal(hex, Hex.Format(span.AsSpan(0, n)));
        Assert.Equal(n, VariableByteInteger.SizeOf(value));

        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Hex.Parse(hex)));
        Assert.Equal(DecodeStatus.Complete, VariableByteInteger.TryRead(ref reader, out var decoded, out _));
        Assert.Equal(value, decoded);
    }

    [Fact]
    public void Variable_byte_integer_with_a_fifth_continuation_byte_is_an_error()
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(Hex.Parse("FF FF FF FF 01")));
        Assert.Equal(DecodeStatus.Error, VariableByteInteger.TryRead(ref reader, out _, out var error));
        Assert.Equal(DecodeError.MalformedVariableByteInteger, error);
    }

    [Fact]
    public void Non_minimal_remaining_length_is_rejected_by_the_decoder_itself()
    {
        // Mosquitto 2.0.11 accepts C0 80 00; we must not (A2).
        var buffer = new ReadOnlySequence<byte>(Hex.Parse("D0 80 00"));
        Assert.Equal(DecodeStatus.Error, MqttDecoder.TryDecode(ref buffer, MqttProtocolVersion.V500, 0, out _, out var error));
        Assert.Equal(DecodeError.NonMinimalVariableByteInteger, error);
    }

    [Fact]
    public void Connect_311_with_will_and_credentials_is_byte_exact()
    {
        var bytes = MqttEncoder.EncodeConnect(new ConnectFields
        {
            Version = MqttProtocolVersion.V311, ClientId = "gw1", CleanStart = false, KeepAliveSeconds = 30,
            WillTopic = "gw/status", WillPayload = "offline"u8.ToArray(), WillQos = MqttQualityOfService.AtLeastOnce, WillRetain = true,
            UserName = "gateway", Password = "s3cret"u8.ToArray(),
        });
        Assert.Equal(Hex.Format(Hex.Parse("""
            10 34 00 04 4D 51 54 54 04 EC 00 1E 00 03 67 77 31 00 09 67 77 2F 73 74 61 74 75 73
            00 07 6F 66 66 6C 69 6E 65 00 07 67 61 74 65 77 61 79 00 06 73 33 63 72 65 74
            """)), Hex.Format(bytes));
    }

    [Fact]
    public void Connect_50_with_session_properties_is_byte_exact()
    {
        var bytes = MqttEncoder.EncodeConnect(new ConnectFields
        {
            Version = MqttProtocolVersion.V500, ClientId = "gw1", CleanStart = false, KeepAliveSeconds = 30,
            ReceiveMaximum = 20, MaximumPacketSize = 65536, SessionExpirySeconds = 3600,
            UserName = "gateway", Password = "s3cret"u8.ToArray(),
        });
        Assert.Equal(Hex.Format(Hex.Parse("""
            10 31 00 04 4D 51 54 54 05 C0 00 1E 10 21 00 14 22 00 00 27 00 01 00 00 11 00 00 0E 10
            00 03 67 77 31 00 07 67 61 74 65 77 61 79 00 06 73 33 63 72 65 74
            """)), Hex.Format(bytes));
    }

    [Fact]
    public async Task Connect_built_from_client_options_matches_the_golden_vector()
    {
        // The client's own option mapping, not just the encoder, produces the captured bytes.
        await using var client = new MqttClient(new MqttClientOptions
        {
            ClientId = "gw1", ProtocolVersion = MqttProtocolVersion.V311, CleanStart = false, KeepAlive = TimeSpan.FromSeconds(30),
            Will = new MqttWill { Topic = "gw/status", Payload = "offline", Qos = MqttQualityOfService.AtLeastOnce, Retain = true },
            UserName = "gateway", Password = "s3cret",
        });
        Assert.Equal(Hex.Format(Hex.Parse("""
            10 34 00 04 4D 51 54 54 04 EC 00 1E 00 03 67 77 31 00 09 67 77 2F 73 74 61 74 75 73
            00 07 6F 66 66 6C 69 6E 65 00 07 67 61 74 65 77 61 79 00 06 73 33 63 72 65 74
            """)), Hex.Format(MqttEncoder.EncodeConnect(client.BuildConnectFields(cleanStart: false))));

        await using var v5 = new MqttClient(new MqttClientOptions
        {
            ClientId = "gw1", ProtocolVersion = MqttProtocolVersion.V500, CleanStart = false, KeepAlive = TimeSpan.FromSeconds(30),
            ReceiveMaximum = 20, MaximumPacketSize = 65536, SessionExpiry = TimeSpan.FromHours(1), UserName = "gateway", Password = "s3cret",
        });
        Assert.Equal(Hex.Format(Hex.Parse("""
            10 31 00 04 4D 51 54 54 05 C0 00 1E 10 21 00 14 22 00 00 27 00 01 00 00 11 00 00 0E 10
            00 03 67 77 31 00 07 67 61 74 65 77 61 79 00 06 73 33 63 72 65 74
            """)), Hex.Format(MqttEncoder.EncodeConnect(v5.BuildConnectFields(cleanStart: false))));
    }

    [Fact]
    public void Publish_311_qos1_is_byte_exact()
    {
        var bytes = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V311, "tele/a", 6, "hello"u8,
            MqttQualityOfService.AtLeastOnce, retain: false, dup: false, packetId: 1, null, 0));
        Assert.Equal(Hex.Format(Hex.Parse("32 0F 00 06 74 65 6C 65 2F 61 00 01 68 65 6C 6C 6F")), Hex.Format(bytes));
    }

    [Fact]
    public void Publish_50_qos1_retain_with_empty_property_block_is_byte_exact()
    {
        var bytes = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V500, "tele/a", 6, "hello"u8,
            MqttQualityOfService.AtLeastOnce, retain: true, dup: false, packetId: 1, null, 0));
        Assert.Equal(Hex.Format(Hex.Parse("33 10 00 06 74 65 6C 65 2F 61 00 01 00 68 65 6C 6C 6F")), Hex.Format(bytes));
    }

    [Fact]
    public void Publish_dup_and_qos0_flags_follow_the_fixed_header_rules()
    {
        var dup = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V311, "a", 1, "x"u8, MqttQualityOfService.AtLeastOnce, false, true, 7, null, 0));
        Assert.Equal(0x3A, dup[0]);
        var qos0 = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V311, "a", 1, "x"u8, MqttQualityOfService.AtMostOnce, false, false, 0, null, 0));
        Assert.Equal(Hex.Format(Hex.Parse("30 04 00 01 61 78")), Hex.Format(qos0)); // no packet id for QoS 0
    }

    [Fact]
    public void Publish_50_user_properties_round_trip_through_the_decoder()
    {
        var props = new[] { new MqttUserProperty("seq", "42"), new MqttUserProperty("id", "r-1") };
        var size = MqttEncoder.UserPropertiesSize(props);
        var bytes = Hex.Written(w => MqttEncoder.WritePublish(w, MqttProtocolVersion.V500, "t/x", 3, "p"u8, MqttQualityOfService.AtLeastOnce, false, false, 9, props, size));
        Assert.Equal(bytes.Length, MqttEncoder.PublishSize(MqttProtocolVersion.V500, 3, 1, MqttQualityOfService.AtLeastOnce, size));
        var seq = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(DecodeStatus.Complete, MqttDecoder.TryDecode(ref seq, MqttProtocolVersion.V500, 0, out var p, out _));
        Assert.Equal("t/x", p.Topic);
        Assert.Equal(9, p.PacketId);
        Assert.Equal(props, p.Properties!.UserProperties);
    }

    [Fact]
    public void Subscribe_311_is_byte_exact_and_suback_decodes()
    {
        var bytes = MqttEncoder.EncodeSubscribe(MqttProtocolVersion.V311, 1,
            [new MqttSubscription("tele/#"), new MqttSubscription("gw/+/status")]);
        Assert.Equal(Hex.Format(Hex.Parse("82 19 00 01 00 06 74 65 6C 65 2F 23 01 00 0B 67 77 2F 2B 2F 73 74 61 74 75 73 01")), Hex.Format(bytes));

        var p = Decode("90 04 00 01 01 01", MqttProtocolVersion.V311);
        Assert.Equal(MqttPacketType.SubAck, p.Type);
        Assert.Equal(new byte[] { 1, 1 }, p.ReasonCodes);
    }

    [Fact]
    public void Control_packets_are_byte_exact()
    {
        var span = new byte[4];
        Assert.Equal("C000", Hex.Format(span.AsSpan(0, MqttEncoder.WritePingReq(span))));
        Assert.Equal("E000", Hex.Format(span.AsSpan(0, MqttEncoder.WriteDisconnect(span, MqttProtocolVersion.V311, 0))));
        Assert.Equal("E00104", Hex.Format(span.AsSpan(0, MqttEncoder.WriteDisconnect(span, MqttProtocolVersion.V500, 4))));
        Assert.Equal("40020001", Hex.Format(span.AsSpan(0, MqttEncoder.WritePubAck(span, 1))));
        Assert.Equal(MqttPacketType.PingResp, Decode("D0 00", MqttProtocolVersion.V311).Type);
    }

    [Fact]
    public void Connack_311_and_50_with_properties_decode()
    {
        var v3 = Decode("20 02 00 00", MqttProtocolVersion.V311);
        Assert.Equal(MqttPacketType.ConnAck, v3.Type);
        Assert.False(v3.SessionPresent);
        Assert.Equal(0, v3.ReasonCode);

        var v5 = Decode("20 09 01 00 06 22 00 0A 21 00 14", MqttProtocolVersion.V500);
        Assert.True(v5.SessionPresent);
        Assert.Equal((ushort)10, v5.Properties!.TopicAliasMaximum);
        Assert.Equal((ushort)20, v5.Properties.ReceiveMaximum);
    }

    [Theory]
    [InlineData("40 02 00 01", 0)]
    [InlineData("40 03 00 01 10", 0x10)]
    [InlineData("40 03 00 02 87", 0x87)]
    [InlineData("40 07 00 01 97 03 1F 00 00", 0x97)]
    public void Puback_50_all_three_forms_decode(string hex, byte reason)
    {
        var p = Decode(hex, MqttProtocolVersion.V500);
        Assert.Equal(MqttPacketType.PubAck, p.Type);
        Assert.Equal(reason, p.ReasonCode);
    }

    [Fact]
    public void Retained_publish_delivered_to_a_subscriber_decodes()
    {
        var p = Decode("33 0F 00 06 74 65 6C 65 2F 61 00 01 68 65 6C 6C 6F", MqttProtocolVersion.V311);
        Assert.True(p.Retain);
        Assert.Equal(MqttQualityOfService.AtLeastOnce, p.Qos);
        Assert.Equal("hello", Encoding.UTF8.GetString(p.Payload!));
    }

    [Fact]
    public void Server_disconnect_50_packet_too_large_decodes()
    {
        var p = Decode("E0 01 95", MqttProtocolVersion.V500);
        Assert.Equal(MqttPacketType.Disconnect, p.Type);
        Assert.Equal(0x95, p.ReasonCode);
    }

    internal static ReceivedPacket Decode(string hex, MqttProtocolVersion version)
    {
        var seq = new ReadOnlySequence<byte>(Hex.Parse(hex));
        var status = MqttDecoder.TryDecode(ref seq, version, 0, out var packet, out var error);
        Assert.True(status == DecodeStatus.Complete, $"{hex}: {status} {error}");
        Assert.True(seq.IsEmpty);
        return packet;
    }
}

public sealed class ConnectFlagTests
{
    [Fact]
    public async Task No_password_means_no_password_flag()
    {
        await using var client = new MqttClient(new MqttClientOptions { ClientId = "a", ProtocolVersion = MqttProtocolVersion.V311 });
        Assert.Equal(0x02, MqttEncoderAccess.Flags(client));
    }
}

internal static class MqttEncoderAccess
{
    public static byte Flags(MqttClient client) => Protocol.MqttEncoder.EncodeConnect(client.BuildConnectFields(cleanStart: true))[9];
}
