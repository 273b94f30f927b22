namespace EdgeGateway.Mqtt;

public enum PublishStatus
{
    /// <summary>QoS 1: the broker acknowledged it (v5 reason code &lt; 0x80, including 0x10 "no matching subscribers").</summary>
    Acknowledged,
    /// <summary>QoS 0: written to the socket.</summary>
    Sent,
    /// <summary>Poison: refused by the broker (v5 PUBACK ≥ 0x80), too large for the server, or invalid. Also reported
    /// to <see cref="MqttClient.DeadLettered"/>. It must not be retried.</summary>
    DeadLettered,
    /// <summary>QoS 0 while not connected: QoS 0 is never buffered.</summary>
    NotConnected,
    /// <summary>The client was disposed before the message was acknowledged.</summary>
    Disposed,
}

public enum DeadLetterReason
{
    /// <summary>Larger than <see cref="MqttClientOptions.MaximumOutgoingPacketSize"/>, the server's Maximum Packet Size
    /// or the protocol limit, or the server answered it with DISCONNECT 0x95.</summary>
    PacketTooLarge,
    /// <summary>v5 PUBACK with a reason code ≥ 0x80 (see <see cref="PublishResult.ReasonCode"/>).</summary>
    RejectedByServer,
    /// <summary>Empty topic, wildcard in the topic, invalid UTF-8 or a string over 65,535 bytes.</summary>
    InvalidMessage,
    /// <summary>The server does not allow RETAIN (v5 Retain Available = 0) or the requested QoS (v5 Maximum QoS).</summary>
    NotSupportedByServer,
    /// <summary>The server closed the connection right after receiving it, <see cref="MqttClientOptions.PoisonDropLimit"/>
    /// times in a row (3.1.1 has no way to say "too large" or "refused"): rejected by the broker.</summary>
    ConnectionDropped,
}

/// <summary>How one publish ended. <see cref="ReasonCode"/> is the v5 PUBACK reason code (0 for 3.1.1).</summary>
public readonly record struct PublishResult(PublishStatus Status, byte ReasonCode = 0, DeadLetterReason? DeadLetterReason = null,
    string? Detail = null)
{
    public bool IsSuccess => Status is PublishStatus.Acknowledged or PublishStatus.Sent;
}

/// <summary>A message that will not be delivered and must not be retried; the owner stores it for inspection.</summary>
public sealed record MqttDeadLetter(string Topic, ReadOnlyMemory<byte> Payload, DeadLetterReason Reason, byte ReasonCode, string Detail);

public enum ConnectOutcome
{
    Connected,
    AlreadyConnected,
    TcpConnectFailed,
    TcpConnectTimeout,
    TlsHandshakeFailed,
    TlsHandshakeTimeout,
    ConnAckTimeout,
    /// <summary>EOF before CONNACK: a broker that does not speak this protocol version may do this (C2).</summary>
    ClosedBeforeConnAck,
    /// <summary>CONNACK with a non-zero return/reason code; see <see cref="MqttConnectResult.ReasonCode"/>.</summary>
    Refused,
    /// <summary>The server sent something that is not a valid CONNACK.</summary>
    ProtocolError,
    /// <summary>v5 Session Present=1 while we hold no session state ([MQTT-3.2.2-4]): closed; the next attempt uses Clean Start.</summary>
    SessionPresentWithoutState,
    /// <summary>MQTT over WebSocket: the HTTP upgrade was refused (status, wrong path, no <c>mqtt</c> subprotocol, proxy).</summary>
    WebSocketUpgradeFailed,
    Disposed,
}

/// <summary>Result of one connection attempt.</summary>
public sealed record MqttConnectResult(ConnectOutcome Outcome, byte ReasonCode = 0, bool SessionPresent = false, string? Detail = null)
{
    public bool IsConnected => Outcome == ConnectOutcome.Connected;

    public override string ToString() => Outcome == ConnectOutcome.Refused
        ? $"Refused: {MqttReasonCodes.Describe(ReasonCode)} (0x{ReasonCode:X2}){(Detail is null ? "" : ": " + Detail)}"
        : $"{Outcome}{(Detail is null ? "" : ": " + Detail)}";
}

public enum DisconnectKind
{
    /// <summary>We sent DISCONNECT (DisconnectAsync or dispose).</summary>
    Local,
    /// <summary>The server sent a v5 DISCONNECT; see the reason code.</summary>
    ServerDisconnect,
    /// <summary>The TCP/TLS stream ended or failed.</summary>
    ConnectionLost,
    /// <summary>No PINGRESP (or any packet) within the ping timeout.</summary>
    KeepAliveTimeout,
    /// <summary>Messages in flight and no PUBACK within the ack timeout.</summary>
    AckTimeout,
    /// <summary>The server sent bytes that are not valid MQTT.</summary>
    ProtocolViolation,
}

/// <summary>Why a connection ended.</summary>
/// <remarks><see cref="RepeatedDropAfterSend"/>: the server dropped the link right after the same message was sent again
/// (poison guard); such drops are explained by the message, not by another client with our id.
/// <see cref="ServerClosed"/>: <see cref="DisconnectKind.ConnectionLost"/> by a clean end of stream from the server (no
/// DISCONNECT, no reset, no local network error, no timeout): the only kind of drop the poison guard and the suspected
/// takeover count.</remarks>
public sealed record MqttDisconnectInfo(DisconnectKind Kind, byte ReasonCode, string Detail, TimeSpan ConnectedFor,
    bool RepeatedDropAfterSend = false, bool ServerClosed = false)
{
    public override string ToString() => Kind == DisconnectKind.ServerDisconnect
        ? $"server DISCONNECT {MqttReasonCodes.Describe(ReasonCode)} (0x{ReasonCode:X2}) {Detail}".TrimEnd()
        : $"{Kind}: {Detail}";
}

public enum MqttConnectionState
{
    Disconnected,
    Connected,
}

/// <summary>Raised on every connect and disconnect. <see cref="SessionPresent"/> is the CONNACK flag.</summary>
public sealed record MqttConnectionStateChange(MqttConnectionState State, bool SessionPresent, MqttDisconnectInfo? Disconnect);

/// <summary>One SUBSCRIBE entry. 5.0 options are ignored on 3.1.1.</summary>
public sealed record MqttSubscription(string TopicFilter, MqttQualityOfService Qos = MqttQualityOfService.AtLeastOnce,
    bool NoLocal = false, bool RetainAsPublished = false, byte RetainHandling = 0);

public enum SubscribeStatus
{
    Completed,
    NotConnected,
    Timeout,
    InvalidFilter,
}

/// <summary>SUBACK codes in filter order: granted QoS 0/1, or a failure code ≥ 0x80.</summary>
public sealed record SubscribeResult(SubscribeStatus Status, IReadOnlyList<byte> ReasonCodes);

/// <summary>A PUBLISH received from the server.</summary>
public sealed record MqttApplicationMessage(string Topic, ReadOnlyMemory<byte> Payload, MqttQualityOfService Qos, bool Retain,
    IReadOnlyList<MqttUserProperty> UserProperties);
