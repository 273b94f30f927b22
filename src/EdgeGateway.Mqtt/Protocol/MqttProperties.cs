namespace EdgeGateway.Mqtt;

/// <summary>A v5 User Property (a name/value string pair; order and repeats are kept).</summary>
public readonly record struct MqttUserProperty(string Name, string Value);

/// <summary>
/// The v5 properties a received packet carried. Allocated only when the packet had a non-empty property block,
/// so the common PUBACK costs nothing.
/// </summary>
public sealed class MqttReceivedProperties
{
    public byte? PayloadFormatIndicator { get; internal set; }
    public uint? MessageExpiryInterval { get; internal set; }
    public string? ContentType { get; internal set; }
    public string? ResponseTopic { get; internal set; }
    public byte[]? CorrelationData { get; internal set; }
    public List<int>? SubscriptionIdentifiers { get; internal set; }
    public uint? SessionExpiryInterval { get; internal set; }
    public string? AssignedClientIdentifier { get; internal set; }
    public ushort? ServerKeepAlive { get; internal set; }
    public string? AuthenticationMethod { get; internal set; }
    public byte[]? AuthenticationData { get; internal set; }
    public byte? RequestProblemInformation { get; internal set; }
    public uint? WillDelayInterval { get; internal set; }
    public byte? RequestResponseInformation { get; internal set; }
    public string? ResponseInformation { get; internal set; }
    public string? ServerReference { get; internal set; }
    public string? ReasonString { get; internal set; }
    public ushort? ReceiveMaximum { get; internal set; }
    public ushort? TopicAliasMaximum { get; internal set; }
    public ushort? TopicAlias { get; internal set; }
    public byte? MaximumQoS { get; internal set; }
    public bool? RetainAvailable { get; internal set; }
    public List<MqttUserProperty>? UserProperties { get; internal set; }
    public uint? MaximumPacketSize { get; internal set; }
    public bool? WildcardSubscriptionAvailable { get; internal set; }
    public bool? SubscriptionIdentifiersAvailable { get; internal set; }
    public bool? SharedSubscriptionAvailable { get; internal set; }
}

/// <summary>v5 property identifiers (5.0 §2.2.2.2).</summary>
internal static class PropertyId
{
    public const byte PayloadFormatIndicator = 0x01;
    public const byte MessageExpiryInterval = 0x02;
    public const byte ContentType = 0x03;
    public const byte ResponseTopic = 0x08;
    public const byte CorrelationData = 0x09;
    public const byte SubscriptionIdentifier = 0x0B;
    public const byte SessionExpiryInterval = 0x11;
    public const byte AssignedClientIdentifier = 0x12;
    public const byte ServerKeepAlive = 0x13;
    public const byte AuthenticationMethod = 0x15;
    public const byte AuthenticationData = 0x16;
    public const byte RequestProblemInformation = 0x17;
    public const byte WillDelayInterval = 0x18;
    public const byte RequestResponseInformation = 0x19;
    public const byte ResponseInformation = 0x1A;
    public const byte ServerReference = 0x1C;
    public const byte ReasonString = 0x1F;
    public const byte ReceiveMaximum = 0x21;
    public const byte TopicAliasMaximum = 0x22;
    public const byte TopicAlias = 0x23;
    public const byte MaximumQoS = 0x24;
    public const byte RetainAvailable = 0x25;
    public const byte UserProperty = 0x26;
    public const byte MaximumPacketSize = 0x27;
    public const byte WildcardSubscriptionAvailable = 0x28;
    public const byte SubscriptionIdentifierAvailable = 0x29;
    public const byte SharedSubscriptionAvailable = 0x2A;
}
