namespace EdgeGateway.Mqtt;

/// <summary>Names of 3.1.1 CONNACK return codes and 5.0 reason codes, for logs and errors.</summary>
public static class MqttReasonCodes
{
    public const byte Success = 0x00;
    public const byte NoMatchingSubscribers = 0x10;
    public const byte NotAuthorized = 0x87;
    public const byte ServerBusy = 0x89;
    public const byte SessionTakenOver = 0x8E;
    public const byte PacketTooLarge = 0x95;

    public static string Describe(byte code) => code switch
    {
        0x00 => "success",
        0x04 => "disconnect with will message",
        0x10 => "no matching subscribers",
        0x80 => "unspecified error",
        0x81 => "malformed packet",
        0x82 => "protocol error",
        0x83 => "implementation specific error",
        0x84 => "unsupported protocol version",
        0x85 => "client identifier not valid",
        0x86 => "bad user name or password",
        0x87 => "not authorized",
        0x88 => "server unavailable",
        0x89 => "server busy",
        0x8A => "banned",
        0x8B => "server shutting down",
        0x8C => "bad authentication method",
        0x8D => "keep alive timeout",
        0x8E => "session taken over",
        0x8F => "topic filter invalid",
        0x90 => "topic name invalid",
        0x91 => "packet identifier in use",
        0x93 => "receive maximum exceeded",
        0x94 => "topic alias invalid",
        0x95 => "packet too large",
        0x96 => "message rate too high",
        0x97 => "quota exceeded",
        0x98 => "administrative action",
        0x99 => "payload format invalid",
        0x9A => "retain not supported",
        0x9B => "QoS not supported",
        0x9C => "use another server",
        0x9D => "server moved",
        0x9F => "connection rate exceeded",
        _ => "reason code",
    };

    /// <summary>3.1.1 CONNACK return codes 1-5 mapped onto their 5.0 equivalents, so one table classifies both.</summary>
    public static byte FromV311ConnAck(byte code) => code switch
    {
        0 => 0x00,
        1 => 0x84,
        2 => 0x85,
        3 => 0x88,
        4 => 0x86,
        5 => 0x87,
        _ => 0x80,
    };
}
