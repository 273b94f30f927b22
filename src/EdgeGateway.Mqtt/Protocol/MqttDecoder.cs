using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeGateway.Mqtt.Protocol;

/// <summary>
/// Decodes packets a client receives. Returns Incomplete / Complete / Error and never throws on bad bytes:
/// the bytes come from the network and a malformed packet only means "close this connection".
/// </summary>
internal static class MqttDecoder
{
    /// <summary>
    /// Tries to decode one packet from the front of <paramref name="buffer"/>. On Complete, <paramref name="buffer"/>
    /// is advanced past it; on Incomplete it is unchanged. <paramref name="maxPacketSize"/> (0 = no limit) is our
    /// advertised limit and is checked as soon as the Remaining Length is known.
    /// </summary>
    public static DecodeStatus TryDecode(ref ReadOnlySequence<byte> buffer, MqttProtocolVersion version, long maxPacketSize,
        out ReceivedPacket packet, out DecodeError error)
    {
        packet = default;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out var first))
        {
            error = DecodeError.None;
            return DecodeStatus.Incomplete;
        }

        var status = VariableByteInteger.TryRead(ref reader, out var remaining, out error);
        if (status != DecodeStatus.Complete)
        {
            return status;
        }

        var headerSize = (int)reader.Consumed;
        var total = (long)headerSize + remaining;
        if (maxPacketSize > 0 && total > maxPacketSize)
        {
            error = DecodeError.PacketTooLarge;
            return DecodeStatus.Error;
        }

        if (reader.Remaining < remaining)
        {
            return DecodeStatus.Incomplete;
        }

        var body = buffer.Slice(headerSize, remaining);
        packet.Type = (MqttPacketType)(first >> 4);
        packet.Flags = (byte)(first & 0x0F);
        packet.Size = (int)total;
        error = DecodeBody(ref packet, body, version);
        if (error != DecodeError.None)
        {
            return DecodeStatus.Error;
        }

        buffer = buffer.Slice(total);
        return DecodeStatus.Complete;
    }

    private static DecodeError DecodeBody(ref ReceivedPacket packet, ReadOnlySequence<byte> body, MqttProtocolVersion version)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var r = new SequenceReader<byte>(body);
        switch (packet.Type)
        {
            case MqttPacketType.ConnAck:
            {
                if (packet.Flags != 0)
                {
                    return DecodeError.InvalidFixedHeaderFlags;
                }

                if (!r.TryRead(out var ackFlags) || !r.TryRead(out var rc))
                {
                    return DecodeError.MalformedPacket;
                }

                if ((ackFlags & 0xFE) != 0)
                {
                    return DecodeError.ProtocolError;
                }

                packet.SessionPresent = (ackFlags & 1) != 0;
                packet.ReasonCode = rc;
                if (v5)
                {
                    var e = ReadProperties(ref r, ref packet.Properties);
                    if (e != DecodeError.None)
                    {
                        return e;
                    }
                }

                return r.End ? DecodeError.None : DecodeError.MalformedPacket;
            }

            case MqttPacketType.Publish:
                return DecodePublish(ref packet, ref r, v5);

            case MqttPacketType.PubAck:
            case MqttPacketType.PubRec:
            case MqttPacketType.PubRel:
            case MqttPacketType.PubComp:
            {
                var expectedFlags = packet.Type == MqttPacketType.PubRel ? 2 : 0;
                if (packet.Flags != expectedFlags)
                {
                    return DecodeError.InvalidFixedHeaderFlags;
                }

                var idError = ReadPacketId(ref r, out packet.PacketId);
                if (idError != DecodeError.None)
                {
                    return idError;
                }

                if (!v5)
                {
                    return r.End ? DecodeError.None : DecodeError.MalformedPacket;
                }

                // 5.0 §3.4.2.1: Remaining Length 2 means Success; 3 adds a reason code; more adds properties.
                if (r.End)
                {
                    return DecodeError.None;
                }

                r.TryRead(out packet.ReasonCode);
                if (r.End)
                {
                    return DecodeError.None;
                }

                var pe = ReadProperties(ref r, ref packet.Properties);
                if (pe != DecodeError.None)
                {
                    return pe;
                }

                return r.End ? DecodeError.None : DecodeError.MalformedPacket;
            }

            case MqttPacketType.SubAck:
            case MqttPacketType.UnsubAck:
            {
                if (packet.Flags != 0)
                {
                    return DecodeError.InvalidFixedHeaderFlags;
                }

                var idError = ReadPacketId(ref r, out packet.PacketId);
                if (idError != DecodeError.None)
                {
                    return idError;
                }

                if (v5)
                {
                    var e = ReadProperties(ref r, ref packet.Properties);
                    if (e != DecodeError.None)
                    {
                        return e;
                    }
                }

                if (packet.Type == MqttPacketType.UnsubAck && !v5)
                {
                    return r.End ? DecodeError.None : DecodeError.MalformedPacket;
                }

                if (r.End)
                {
                    return DecodeError.MalformedPacket; // at least one return code
                }

                var codes = new byte[r.Remaining];
                r.TryCopyTo(codes);
                packet.ReasonCodes = codes;
                return DecodeError.None;
            }

            case MqttPacketType.PingResp:
                if (packet.Flags != 0)
                {
                    return DecodeError.InvalidFixedHeaderFlags;
                }

                return r.End ? DecodeError.None : DecodeError.MalformedPacket;

            case MqttPacketType.Disconnect:
            {
                // In 3.1.1 only the client sends DISCONNECT.
                if (!v5)
                {
                    return DecodeError.UnexpectedPacketType;
                }

                if (packet.Flags != 0)
                {
                    return DecodeError.InvalidFixedHeaderFlags;
                }

                if (r.End)
                {
                    return DecodeError.None;
                }

                r.TryRead(out packet.ReasonCode);
                if (r.End)
                {
                    return DecodeError.None;
                }

                var e = ReadProperties(ref r, ref packet.Properties);
                if (e != DecodeError.None)
                {
                    return e;
                }

                // [MQTT-3.14.2-2]: a server must not send Session Expiry Interval in DISCONNECT.
                if (packet.Properties?.SessionExpiryInterval is not null)
                {
                    return DecodeError.ProtocolError;
                }

                return r.End ? DecodeError.None : DecodeError.MalformedPacket;
            }

            default:
                // CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, reserved 0, and AUTH (we never set an Authentication Method).
                return DecodeError.UnexpectedPacketType;
        }
    }

    private static DecodeError DecodePublish(ref ReceivedPacket packet, ref SequenceReader<byte> r, bool v5)
    {
        var qos = (packet.Flags >> 1) & 3;
        if (qos == 3)
        {
            return DecodeError.ProtocolError;
        }

        packet.Qos = (MqttQualityOfService)qos;
        packet.Dup = (packet.Flags & 0x08) != 0;
        packet.Retain = (packet.Flags & 0x01) != 0;
        if (qos == 0 && packet.Dup)
        {
            return DecodeError.ProtocolError; // [MQTT-3.3.1-2]
        }

        var se = ReadString(ref r, out var topic);
        if (se != DecodeError.None)
        {
            return se;
        }

        if (topic.Length == 0 || topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            // We advertise Topic Alias Maximum 0, so an empty topic can never be valid.
            return DecodeError.ProtocolError;
        }

        packet.Topic = topic;
        if (qos > 0)
        {
            var idError = ReadPacketId(ref r, out packet.PacketId);
            if (idError != DecodeError.None)
            {
                return idError;
            }
        }

        if (v5)
        {
            var e = ReadProperties(ref r, ref packet.Properties);
            if (e != DecodeError.None)
            {
                return e;
            }

            if (packet.Properties?.TopicAlias is not null)
            {
                return DecodeError.ProtocolError;
            }
        }

        var payload = new byte[r.Remaining];
        r.TryCopyTo(payload);
        packet.Payload = payload;
        return DecodeError.None;
    }

    /// <summary>A packet identifier: two bytes, never zero.</summary>
    private static DecodeError ReadPacketId(ref SequenceReader<byte> r, out ushort id)
    {
        if (!r.TryReadBigEndian(out short raw))
        {
            id = 0;
            return DecodeError.MalformedPacket;
        }

        id = (ushort)raw;
        return id == 0 ? DecodeError.ProtocolError : DecodeError.None;
    }

    private static DecodeError ReadString(ref SequenceReader<byte> r, out string value)
    {
        value = "";
        var e = ReadBinary(ref r, out var bytes);
        if (e != DecodeError.None)
        {
            return e;
        }

        if (!MqttText.IsValidReceived(bytes))
        {
            return DecodeError.InvalidUtf8;
        }

        value = bytes.Length == 0 ? "" : Encoding.UTF8.GetString(bytes);
        return DecodeError.None;
    }

    private static DecodeError ReadBinary(ref SequenceReader<byte> r, out byte[] value)
    {
        value = [];
        if (!r.TryReadBigEndian(out short len))
        {
            return DecodeError.MalformedPacket;
        }

        var length = (ushort)len;
        if (r.Remaining < length)
        {
            return DecodeError.MalformedPacket;
        }

        if (length > 0)
        {
            value = new byte[length];
            r.TryCopyTo(value);
            r.Advance(length);
        }

        return DecodeError.None;
    }

    /// <summary>Reads a v5 property block into <paramref name="props"/> (allocated only when the block is non-empty).</summary>
    internal static DecodeError ReadProperties(ref SequenceReader<byte> outer, ref MqttReceivedProperties? props)
    {
        var status = VariableByteInteger.TryRead(ref outer, out var length, out var vbiError);
        if (status == DecodeStatus.Incomplete)
        {
            return DecodeError.MalformedPacket;
        }

        if (status == DecodeStatus.Error)
        {
            return vbiError;
        }

        if (outer.Remaining < length)
        {
            return DecodeError.MalformedPacket;
        }

        if (length == 0)
        {
            return DecodeError.None;
        }

        var r = new SequenceReader<byte>(outer.UnreadSequence.Slice(0, length));
        outer.Advance(length);
        var p = props ??= new MqttReceivedProperties();
        ulong seen = 0;
        while (!r.End)
        {
            status = VariableByteInteger.TryRead(ref r, out var id, out vbiError);
            if (status != DecodeStatus.Complete)
            {
                return status == DecodeStatus.Error ? vbiError : DecodeError.MalformedPacket;
            }

            var repeatable = id is PropertyId.UserProperty or PropertyId.SubscriptionIdentifier;
            if (id < 64 && !repeatable)
            {
                if ((seen & (1UL << id)) != 0)
                {
                    return DecodeError.DuplicateProperty;
                }

                seen |= 1UL << id;
            }

            DecodeError e;
            switch (id)
            {
                case PropertyId.PayloadFormatIndicator:
                    e = ReadFlag(ref r, v => p.PayloadFormatIndicator = v);
                    break;
                case PropertyId.RequestProblemInformation:
                    e = ReadFlag(ref r, v => p.RequestProblemInformation = v);
                    break;
                case PropertyId.RequestResponseInformation:
                    e = ReadFlag(ref r, v => p.RequestResponseInformation = v);
                    break;
                case PropertyId.MaximumQoS:
                    e = ReadFlag(ref r, v => p.MaximumQoS = v);
                    break;
                case PropertyId.RetainAvailable:
                    e = ReadFlag(ref r, v => p.RetainAvailable = v == 1);
                    break;
                case PropertyId.WildcardSubscriptionAvailable:
                    e = ReadFlag(ref r, v => p.WildcardSubscriptionAvailable = v == 1);
                    break;
                case PropertyId.SubscriptionIdentifierAvailable:
                    e = ReadFlag(ref r, v => p.SubscriptionIdentifiersAvailable = v == 1);
                    break;
                case PropertyId.SharedSubscriptionAvailable:
                    e = ReadFlag(ref r, v => p.SharedSubscriptionAvailable = v == 1);
                    break;
                case PropertyId.ServerKeepAlive:
                    e = ReadU16(ref r, out var ska);
                    p.ServerKeepAlive = ska;
                    break;
                case PropertyId.ReceiveMaximum:
                    e = ReadU16(ref r, out var rm);
                    e = e == DecodeError.None && rm == 0 ? DecodeError.ProtocolError : e;
                    p.ReceiveMaximum = rm;
                    break;
                case PropertyId.TopicAliasMaximum:
                    e = ReadU16(ref r, out var tam);
                    p.TopicAliasMaximum = tam;
                    break;
                case PropertyId.TopicAlias:
                    e = ReadU16(ref r, out var ta);
                    p.TopicAlias = ta;
                    break;
                case PropertyId.MessageExpiryInterval:
                    e = ReadU32(ref r, out var mei);
                    p.MessageExpiryInterval = mei;
                    break;
                case PropertyId.SessionExpiryInterval:
                    e = ReadU32(ref r, out var sei);
                    p.SessionExpiryInterval = sei;
                    break;
                case PropertyId.WillDelayInterval:
                    e = ReadU32(ref r, out var wdi);
                    p.WillDelayInterval = wdi;
                    break;
                case PropertyId.MaximumPacketSize:
                    e = ReadU32(ref r, out var mps);
                    e = e == DecodeError.None && mps == 0 ? DecodeError.ProtocolError : e;
                    p.MaximumPacketSize = mps;
                    break;
                case PropertyId.SubscriptionIdentifier:
                    status = VariableByteInteger.TryRead(ref r, out var sid, out vbiError);
                    e = status == DecodeStatus.Complete ? (sid == 0 ? DecodeError.ProtocolError : DecodeError.None)
                        : status == DecodeStatus.Error ? vbiError : DecodeError.MalformedPacket;
                    (p.SubscriptionIdentifiers ??= []).Add(sid);
                    break;
                case PropertyId.ContentType:
                    e = ReadString(ref r, out var ct);
                    p.ContentType = ct;
                    break;
                case PropertyId.ResponseTopic:
                    e = ReadString(ref r, out var rt);
                    p.ResponseTopic = rt;
                    break;
                case PropertyId.AssignedClientIdentifier:
                    e = ReadString(ref r, out var aci);
                    p.AssignedClientIdentifier = aci;
                    break;
                case PropertyId.AuthenticationMethod:
                    e = ReadString(ref r, out var am);
                    p.AuthenticationMethod = am;
                    break;
                case PropertyId.ResponseInformation:
                    e = ReadString(ref r, out var ri);
                    p.ResponseInformation = ri;
                    break;
                case PropertyId.ServerReference:
                    e = ReadString(ref r, out var sr);
                    p.ServerReference = sr;
                    break;
                case PropertyId.ReasonString:
                    e = ReadString(ref r, out var rs);
                    p.ReasonString = rs;
                    break;
                case PropertyId.CorrelationData:
                    e = ReadBinary(ref r, out var cd);
                    p.CorrelationData = cd;
                    break;
                case PropertyId.AuthenticationData:
                    e = ReadBinary(ref r, out var ad);
                    p.AuthenticationData = ad;
                    break;
                case PropertyId.UserProperty:
                    e = ReadString(ref r, out var name);
                    var value = "";
                    if (e == DecodeError.None)
                    {
                        e = ReadString(ref r, out value);
                    }

                    (p.UserProperties ??= []).Add(new MqttUserProperty(name, value));
                    break;
                default:
                    // Its value length is unknown, so it cannot be skipped (5.0 §4.13).
                    return DecodeError.UnknownProperty;
            }

            if (e != DecodeError.None)
            {
                return e;
            }
        }

        return DecodeError.None;
    }

    private static DecodeError ReadFlag(ref SequenceReader<byte> r, Action<byte> set)
    {
        if (!r.TryRead(out var b))
        {
            return DecodeError.MalformedPacket;
        }

        if (b > 1 && set is not null)
        {
            return DecodeError.ProtocolError;
        }

        set!(b);
        return DecodeError.None;
    }

    private static DecodeError ReadU16(ref SequenceReader<byte> r, out ushort value)
    {
        value = 0;
        if (!r.TryReadBigEndian(out short v))
        {
            return DecodeError.MalformedPacket;
        }

        value = (ushort)v;
        return DecodeError.None;
    }

    private static DecodeError ReadU32(ref SequenceReader<byte> r, out uint value)
    {
        value = 0;
        if (!r.TryReadBigEndian(out int v))
        {
            return DecodeError.MalformedPacket;
        }

        value = (uint)v;
        return DecodeError.None;
    }

    internal static ushort ReadU16(ReadOnlySpan<byte> span) => BinaryPrimitives.ReadUInt16BigEndian(span);
}
