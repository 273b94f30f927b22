using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace EdgeGateway.Mqtt.Protocol;

/// <summary>The fields of a CONNECT packet, already validated by <see cref="MqttClientOptions"/>.</summary>
internal sealed class ConnectFields
{
    public MqttProtocolVersion Version { get; init; } = MqttProtocolVersion.V311;
    public string ClientId { get; init; } = "";
    public bool CleanStart { get; init; } = true;
    public ushort KeepAliveSeconds { get; init; }
    /// <summary>v5 only; 0 = omitted (session ends at disconnect).</summary>
    public uint SessionExpirySeconds { get; init; }
    /// <summary>v5 only; 0 = omitted (the default 65,535 applies).</summary>
    public ushort ReceiveMaximum { get; init; }
    /// <summary>v5 only; 0 = omitted (no limit).</summary>
    public uint MaximumPacketSize { get; init; }
    public string? WillTopic { get; init; }
    public ReadOnlyMemory<byte> WillPayload { get; init; }
    public MqttQualityOfService WillQos { get; init; }
    public bool WillRetain { get; init; }
    public string? UserName { get; init; }
    public ReadOnlyMemory<byte>? Password { get; init; }
}

/// <summary>
/// Writes MQTT packets. Inputs are validated before they get here (options validation, <see cref="MqttText"/>),
/// so the encoder throws only on programming errors.
/// </summary>
internal static class MqttEncoder
{
    private static ReadOnlySpan<byte> ProtocolName => "\0\u0004MQTT"u8;

    public static byte[] EncodeConnect(ConnectFields c)
    {
        var v5 = c.Version == MqttProtocolVersion.V500;
        var propsLength = 0;
        if (v5)
        {
            if (c.ReceiveMaximum != 0)
            {
                propsLength += 3;
            }

            // Topic Alias Maximum 0 is the default; sent explicitly like libmosquitto, so the bytes match its capture.
            propsLength += 3;
            if (c.MaximumPacketSize != 0)
            {
                propsLength += 5;
            }

            if (c.SessionExpirySeconds != 0)
            {
                propsLength += 5;
            }
        }

        var hasWill = c.WillTopic is not null;
        var variableHeader = ProtocolName.Length + 1 + 1 + 2 + (v5 ? VariableByteInteger.SizeOf(propsLength) + propsLength : 0);
        var payload = StringSize(c.ClientId);
        if (hasWill)
        {
            payload += (v5 ? 1 : 0) + StringSize(c.WillTopic!) + 2 + c.WillPayload.Length;
        }

        if (c.UserName is not null)
        {
            payload += StringSize(c.UserName);
        }

        if (c.Password is { } pw)
        {
            payload += 2 + pw.Length;
        }

        var remaining = variableHeader + payload;
        var buffer = new byte[1 + VariableByteInteger.SizeOf(remaining) + remaining];
        var span = buffer.AsSpan();
        span[0] = 0x10;
        var p = 1 + VariableByteInteger.Write(span[1..], remaining);
        ProtocolName.CopyTo(span[p..]);
        p += ProtocolName.Length;
        span[p++] = (byte)c.Version;
        byte flags = 0;
        if (c.UserName is not null)
        {
            flags |= 0x80;
        }

        if (c.Password is not null)
        {
            flags |= 0x40;
        }

        if (hasWill)
        {
            flags |= 0x04;
            flags |= (byte)((byte)c.WillQos << 3);
            if (c.WillRetain)
            {
                flags |= 0x20;
            }
        }

        if (c.CleanStart)
        {
            flags |= 0x02;
        }

        span[p++] = flags;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], c.KeepAliveSeconds);
        p += 2;
        if (v5)
        {
            p += VariableByteInteger.Write(span[p..], propsLength);
            if (c.ReceiveMaximum != 0)
            {
                span[p++] = PropertyId.ReceiveMaximum;
                BinaryPrimitives.WriteUInt16BigEndian(span[p..], c.ReceiveMaximum);
                p += 2;
            }

            span[p++] = PropertyId.TopicAliasMaximum;
            BinaryPrimitives.WriteUInt16BigEndian(span[p..], 0);
            p += 2;
            if (c.MaximumPacketSize != 0)
            {
                span[p++] = PropertyId.MaximumPacketSize;
                BinaryPrimitives.WriteUInt32BigEndian(span[p..], c.MaximumPacketSize);
                p += 4;
            }

            if (c.SessionExpirySeconds != 0)
            {
                span[p++] = PropertyId.SessionExpiryInterval;
                BinaryPrimitives.WriteUInt32BigEndian(span[p..], c.SessionExpirySeconds);
                p += 4;
            }
        }

        p += WriteString(span[p..], c.ClientId);
        if (hasWill)
        {
            if (v5)
            {
                span[p++] = 0; // empty Will Properties
            }

            p += WriteString(span[p..], c.WillTopic!);
            BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)c.WillPayload.Length);
            p += 2;
            c.WillPayload.Span.CopyTo(span[p..]);
            p += c.WillPayload.Length;
        }

        if (c.UserName is not null)
        {
            p += WriteString(span[p..], c.UserName);
        }

        if (c.Password is { } password)
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)password.Length);
            p += 2;
            password.Span.CopyTo(span[p..]);
            p += password.Length;
        }

        return p == buffer.Length ? buffer : throw new InvalidOperationException("CONNECT size mismatch");
    }

    /// <summary>Size of the v5 property block content for PUBLISH user properties.</summary>
    public static int UserPropertiesSize(IReadOnlyList<MqttUserProperty>? properties)
    {
        if (properties is null)
        {
            return 0;
        }

        var size = 0;
        for (var i = 0; i < properties.Count; i++)
        {
            size += 1 + StringSize(properties[i].Name) + StringSize(properties[i].Value);
        }

        return size;
    }

    /// <summary>Whole PUBLISH size including the fixed header; <paramref name="topicBytes"/> from <see cref="MqttText"/>.</summary>
    public static long PublishSize(MqttProtocolVersion version, int topicBytes, int payloadLength, MqttQualityOfService qos, int userPropsSize)
    {
        long remaining = 2 + topicBytes + (qos == MqttQualityOfService.AtMostOnce ? 0 : 2) + payloadLength;
        if (version == MqttProtocolVersion.V500)
        {
            remaining += VariableByteInteger.SizeOf(userPropsSize) + userPropsSize;
        }

        return remaining > VariableByteInteger.MaxValue ? long.MaxValue : 1 + VariableByteInteger.SizeOf((int)remaining) + remaining;
    }

    /// <summary>Writes a PUBLISH into <paramref name="writer"/> without intermediate copies.</summary>
    public static int WritePublish(IBufferWriter<byte> writer, MqttProtocolVersion version, string topic, int topicBytes,
        ReadOnlySpan<byte> payload, MqttQualityOfService qos, bool retain, bool dup, ushort packetId,
        IReadOnlyList<MqttUserProperty>? userProperties, int userPropsSize)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var remaining = 2 + topicBytes + (qos == MqttQualityOfService.AtMostOnce ? 0 : 2) + payload.Length
            + (v5 ? VariableByteInteger.SizeOf(userPropsSize) + userPropsSize : 0);
        var headerSize = 1 + VariableByteInteger.SizeOf(remaining);
        var total = headerSize + remaining;

        // Large payloads are copied in slices so the writer never has to provide one huge contiguous span.
        var head = writer.GetSpan(total - payload.Length);
        var p = 0;
        head[p++] = (byte)(0x30 | (dup ? 0x08 : 0) | ((byte)qos << 1) | (retain ? 1 : 0));
        p += VariableByteInteger.Write(head[p..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(head[p..], (ushort)topicBytes);
        p += 2;
        p += Encoding.UTF8.GetBytes(topic, head[p..]);
        if (qos != MqttQualityOfService.AtMostOnce)
        {
            BinaryPrimitives.WriteUInt16BigEndian(head[p..], packetId);
            p += 2;
        }

        if (v5)
        {
            p += VariableByteInteger.Write(head[p..], userPropsSize);
            if (userProperties is not null)
            {
                for (var i = 0; i < userProperties.Count; i++)
                {
                    head[p++] = PropertyId.UserProperty;
                    p += WriteString(head[p..], userProperties[i].Name);
                    p += WriteString(head[p..], userProperties[i].Value);
                }
            }
        }

        writer.Advance(p);
        while (!payload.IsEmpty)
        {
            var span = writer.GetSpan(Math.Min(payload.Length, 65_536));
            var n = Math.Min(span.Length, payload.Length);
            payload[..n].CopyTo(span);
            writer.Advance(n);
            payload = payload[n..];
        }

        return total;
    }

    public static int WritePubAck(Span<byte> span, ushort packetId)
    {
        span[0] = 0x40;
        span[1] = 2;
        BinaryPrimitives.WriteUInt16BigEndian(span[2..], packetId);
        return 4;
    }

    public static int WritePingReq(Span<byte> span)
    {
        span[0] = 0xC0;
        span[1] = 0;
        return 2;
    }

    /// <summary>DISCONNECT; for v5 a non-zero reason code is sent (0 is implied by an empty packet).</summary>
    public static int WriteDisconnect(Span<byte> span, MqttProtocolVersion version, byte reasonCode)
    {
        span[0] = 0xE0;
        if (version == MqttProtocolVersion.V500 && reasonCode != 0)
        {
            span[1] = 1;
            span[2] = reasonCode;
            return 3;
        }

        span[1] = 0;
        return 2;
    }

    public static byte[] EncodeSubscribe(MqttProtocolVersion version, ushort packetId, IReadOnlyList<MqttSubscription> subscriptions)
    {
        var v5 = version == MqttProtocolVersion.V500;
        var remaining = 2 + (v5 ? 1 : 0);
        foreach (var s in subscriptions)
        {
            remaining += StringSize(s.TopicFilter) + 1;
        }

        var buffer = new byte[1 + VariableByteInteger.SizeOf(remaining) + remaining];
        var span = buffer.AsSpan();
        span[0] = 0x82;
        var p = 1 + VariableByteInteger.Write(span[1..], remaining);
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], packetId);
        p += 2;
        if (v5)
        {
            span[p++] = 0;
        }

        foreach (var s in subscriptions)
        {
            p += WriteString(span[p..], s.TopicFilter);
            var options = (byte)s.Qos;
            if (v5)
            {
                options |= (byte)((s.NoLocal ? 0x04 : 0) | (s.RetainAsPublished ? 0x08 : 0) | ((byte)s.RetainHandling << 4));
            }

            span[p++] = options;
        }

        return buffer;
    }

    private static int StringSize(string value) => 2 + Encoding.UTF8.GetByteCount(value);

    private static int WriteString(Span<byte> span, string value)
    {
        var n = Encoding.UTF8.GetBytes(value, span[2..]);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)n);
        return 2 + n;
    }
}
