namespace EdgeGateway.Mqtt.Protocol;

/// <summary>
/// One decoded packet from the server. A struct with the union of the fields a client can receive, so that
/// decoding a PUBACK or PINGRESP allocates nothing.
/// </summary>
internal struct ReceivedPacket
{
    public MqttPacketType Type;
    public byte Flags;
    public ushort PacketId;
    /// <summary>CONNACK return/reason code, PUBACK/DISCONNECT reason code (0 when the short form omitted it).</summary>
    public byte ReasonCode;
    public bool SessionPresent;
    public MqttReceivedProperties? Properties;
    public string? Topic;
    public byte[]? Payload;
    public MqttQualityOfService Qos;
    public bool Retain;
    public bool Dup;
    /// <summary>SUBACK/UNSUBACK return codes, one per filter.</summary>
    public byte[]? ReasonCodes;
    /// <summary>Bytes on the wire, fixed header included.</summary>
    public int Size;
}
