namespace EdgeGateway.Mqtt;

/// <summary>The protocol level sent in CONNECT.</summary>
public enum MqttProtocolVersion : byte
{
    V311 = 4,
    V500 = 5,
}

public enum MqttQualityOfService : byte
{
    AtMostOnce = 0,
    AtLeastOnce = 1,
}

internal enum MqttPacketType : byte
{
    Connect = 1,
    ConnAck = 2,
    Publish = 3,
    PubAck = 4,
    PubRec = 5,
    PubRel = 6,
    PubComp = 7,
    Subscribe = 8,
    SubAck = 9,
    Unsubscribe = 10,
    UnsubAck = 11,
    PingReq = 12,
    PingResp = 13,
    Disconnect = 14,
    Auth = 15,
}

/// <summary>Outcome of one decode attempt over received bytes. Never an exception for bad network input.</summary>
public enum DecodeStatus
{
    /// <summary>More bytes are needed; nothing was consumed.</summary>
    Incomplete,
    Complete,
    /// <summary>The bytes are not a valid packet; the connection must be closed.</summary>
    Error,
}

/// <summary>Why a received packet was rejected.</summary>
public enum DecodeError
{
    None,
    /// <summary>Remaining Length or another Variable Byte Integer had a 5th continuation byte.</summary>
    MalformedVariableByteInteger,
    /// <summary>A Variable Byte Integer used more bytes than needed (5.0 [MQTT-1.5.5-1]).</summary>
    NonMinimalVariableByteInteger,
    PacketTooLarge,
    InvalidFixedHeaderFlags,
    /// <summary>A packet type a client must never receive (CONNECT, SUBSCRIBE, PINGREQ, ...), or type 0.</summary>
    UnexpectedPacketType,
    /// <summary>A length field points past the end of the packet, or bytes are left over.</summary>
    MalformedPacket,
    InvalidUtf8,
    DuplicateProperty,
    UnknownProperty,
    /// <summary>A value that the specification forbids (QoS 3, packet id 0, Receive Maximum 0, ...).</summary>
    ProtocolError,
}
