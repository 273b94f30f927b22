namespace EdgeGateway.Mqtt;

/// <summary>Last Will: published by the broker when the connection dies without a DISCONNECT.</summary>
public sealed class MqttWill
{
    public string Topic { get; set; } = "";
    public string Payload { get; set; } = "offline";
    public MqttQualityOfService Qos { get; set; } = MqttQualityOfService.AtLeastOnce;
    public bool Retain { get; set; } = true;
}

/// <summary>TLS settings (SslStream, TLS 1.2 or 1.3). PEM files.</summary>
public sealed class MqttTlsOptions
{
    public bool Enabled { get; set; }
    /// <summary>CA certificate(s) the server chain must end in. Empty: the system trust store.</summary>
    public string? CaFile { get; set; }
    /// <summary>Client certificate for mutual TLS (PEM), with <see cref="ClientKeyFile"/>.</summary>
    public string? ClientCertificateFile { get; set; }
    public string? ClientKeyFile { get; set; }
    /// <summary>Name checked against the server certificate; defaults to <see cref="MqttClientOptions.Host"/>.</summary>
    public string? TargetHost { get; set; }
}

/// <summary>
/// MQTT over WebSocket (<c>mqtt+ws://</c>, <c>mqtt+wss://</c>): an HTTP/1.1 upgrade to <see cref="Path"/> with the
/// subprotocol <c>mqtt</c>, then MQTT packets in binary frames. TLS (wss) uses <see cref="MqttClientOptions.Tls"/>.
/// </summary>
public sealed class MqttWebSocketOptions
{
    public bool Enabled { get; set; }
    /// <summary>Request path (and query) of the upgrade, e.g. <c>/mqtt</c>.</summary>
    public string Path { get; set; } = "/mqtt";
    /// <summary>
    /// Go through the proxy named by the standard environment variables (<c>https_proxy</c> for wss, <c>http_proxy</c>
    /// for ws, <c>all_proxy</c>, minus <c>no_proxy</c>), as an HTTP CONNECT tunnel. False: always connect directly.
    /// </summary>
    public bool UseProxy { get; set; } = true;
}

/// <summary>Reconnect policy: capped exponential backoff with jitter; long waits for refusals and takeovers.</summary>
public sealed class MqttBackoffOptions
{
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMinutes(2);
    /// <summary>± fraction applied to every delay (0.25 = ±25 %).</summary>
    public double Jitter { get; set; } = 0.25;
    /// <summary>Minimum wait after a refused login, a ban, "server busy" or a certificate failure.</summary>
    public TimeSpan RefusedDelay { get; set; } = TimeSpan.FromMinutes(1);
    /// <summary>Minimum wait after "session taken over": another instance uses our client id; never fight it.</summary>
    public TimeSpan TakeoverDelay { get; set; } = TimeSpan.FromMinutes(5);
    /// <summary>
    /// A connection that stays up this long clears a takeover suspicion. (The backoff itself resets as soon as a
    /// connection is proven: CONNACK plus the first PUBACK, or CONNACK with nothing to send.)
    /// </summary>
    public TimeSpan StableAfter { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>
    /// Mosquitto closes a taken-over connection without DISCONNECT 0x8E, and closes every client the same way when it
    /// shuts down. A clean server close (end of stream; no DISCONNECT, no reset or local network error, no timeout) is
    /// therefore answered with an immediate reconnect: during a restart it is refused (mosquitto closes its listener
    /// before its clients), while a broker that accepted it at once never went away, so the close was a kick. After this
    /// many kicks within <see cref="SuspectTakeoverWindow"/> the supervisor assumes another client uses our client id
    /// and waits at least <see cref="TakeoverDelay"/> after each further clean close. A connection that stays up
    /// <see cref="StableAfter"/>, one that ends any other way, or a connect attempt that fails on the network clears the
    /// suspicion. 0 disables the guess (clean closes then get the normal backoff).
    /// </summary>
    public int SuspectTakeoverCloses { get; set; } = 4;
    /// <summary>Window in which <see cref="SuspectTakeoverCloses"/> kicks must fall.</summary>
    public TimeSpan SuspectTakeoverWindow { get; set; } = TimeSpan.FromMinutes(10);
}

/// <summary>Options of one MQTT client connection.</summary>
public sealed class MqttClientOptions
{
    public string Host { get; set; } = "127.0.0.1";
    /// <summary>0 = 1883, or 8883 with TLS (80 / 443 over WebSocket).</summary>
    public int Port { get; set; }
    /// <summary>Stable and unique per gateway (two instances with one id knock each other off).</summary>
    public string ClientId { get; set; } = "";
    public MqttProtocolVersion ProtocolVersion { get; set; } = MqttProtocolVersion.V500;
    /// <summary>Clean Session (3.1.1) / Clean Start (5.0). False resumes the broker session and resends with DUP=1.</summary>
    public bool CleanStart { get; set; } = true;
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>v5 Session Expiry Interval; 0 ends the session at disconnect. Needed with CleanStart=false on v5.</summary>
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.Zero;
    /// <summary>v5: how many QoS 1 PUBLISHes the server may send us unacknowledged (our Receive Maximum).</summary>
    public int ReceiveMaximum { get; set; } = 100;
    /// <summary>Largest packet we accept (advertised in v5). Larger inbound packets close the connection.</summary>
    public int MaximumPacketSize { get; set; } = 1024 * 1024;
    /// <summary>
    /// Largest packet we send (fixed header included), on 3.1.1 and 5.0 alike. A bigger PUBLISH is dead-lettered
    /// (<see cref="DeadLetterReason.PacketTooLarge"/>) instead of being sent: a broker limit on 3.1.1 (mosquitto
    /// <c>max_packet_size</c>) just drops the connection. The v5 server Maximum Packet Size lowers it further.
    /// </summary>
    public int MaximumOutgoingPacketSize { get; set; } = 1024 * 1024;
    /// <summary>
    /// Poison guard (3.1.1 only): a QoS 1 message that is the oldest unacknowledged one when the server closes the
    /// connection (end of stream, or a TCP reset from the server - what mosquitto's max_packet_size produces; local network
    /// errors and timeouts do not count) within <see cref="PingTimeout"/>
    /// after it was sent is then sent alone on the next connections; after this many such closes in all (the later ones
    /// with it alone in flight) it is dead-lettered (<see cref="DeadLetterReason.ConnectionDropped"/>) instead of being
    /// resent forever. 0 disables it.
    /// </summary>
    public int PoisonDropLimit { get; set; } = 3;
    /// <summary>Our inflight window; the effective window is min(this, server Receive Maximum).</summary>
    public int MaxInflight { get; set; } = 20;
    /// <summary>Bound on messages held by the client (queued + inflight); PublishAsync waits when full.</summary>
    public int MaxPending { get; set; } = 1000;
    public string? UserName { get; set; }
    public string? Password { get; set; }
    public MqttWill? Will { get; set; }
    public MqttTlsOptions Tls { get; set; } = new();
    public MqttWebSocketOptions WebSocket { get; set; } = new();
    /// <summary>
    /// An explicit proxy for <see cref="WebSocket"/> (code only, not configuration); null: the environment variables
    /// (<see cref="System.Net.Http.HttpClient.DefaultProxy"/>) when <see cref="MqttWebSocketOptions.UseProxy"/> is on.
    /// </summary>
    public System.Net.IWebProxy? WebSocketProxy { get; set; }
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan ConnAckTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a PINGREQ may go unanswered (and the link stay silent) before it is declared dead.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>With messages in flight, the longest time without any PUBACK before the link is declared dead.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How long a graceful DISCONNECT may take to flush.</summary>
    public TimeSpan DisconnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
    public MqttBackoffOptions Backoff { get; set; } = new();

    /// <summary>0 means 1883 / 8883 (TLS) over TCP, 80 / 443 (TLS) over WebSocket.</summary>
    internal int EffectivePort => Port != 0 ? Port : WebSocket.Enabled ? (Tls.Enabled ? 443 : 80) : Tls.Enabled ? 8883 : 1883;

    /// <summary>One message per problem, each naming the full key and the allowed values.</summary>
    public IEnumerable<string> Validate(string section)
    {
        var p = string.IsNullOrEmpty(section) ? "" : section + ":";
        if (string.IsNullOrWhiteSpace(Host))
        {
            yield return $"{p}Host: must be a host name or IP address";
        }

        if (Port is < 0 or > 65_535)
        {
            yield return $"{p}Port: must be 1..65535, or 0 for the default (got {Port})";
        }

        if (!Protocol.MqttText.TryGetByteCount(ClientId ?? "", out var idBytes) || idBytes == 0)
        {
            yield return $"{p}ClientId: must be a non-empty, stable, unique UTF-8 string";
        }

        if (ProtocolVersion is not (MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            yield return $"{p}ProtocolVersion: must be V311 or V500 (got {ProtocolVersion})";
        }

        if (KeepAlive < TimeSpan.Zero || KeepAlive.TotalSeconds > ushort.MaxValue)
        {
            yield return $"{p}KeepAlive: must be 0..65535 seconds (got {KeepAlive})";
        }

        if (SessionExpiry < TimeSpan.Zero || SessionExpiry.TotalSeconds > uint.MaxValue)
        {
            yield return $"{p}SessionExpiry: must be 0..4294967295 seconds (got {SessionExpiry})";
        }

        if (ReceiveMaximum is < 1 or > 65_535)
        {
            yield return $"{p}ReceiveMaximum: must be 1..65535 (got {ReceiveMaximum})";
        }

        if (MaximumPacketSize < 128)
        {
            yield return $"{p}MaximumPacketSize: must be at least 128 bytes (got {MaximumPacketSize})";
        }

        if (MaximumOutgoingPacketSize is < 128 or > 268_435_460)
        {
            yield return $"{p}MaximumOutgoingPacketSize: must be 128..268435460 bytes (got {MaximumOutgoingPacketSize})";
        }

        if (PoisonDropLimit is < 0 or > 100)
        {
            yield return $"{p}PoisonDropLimit: must be 0 (off) .. 100 (got {PoisonDropLimit})";
        }

        if (Backoff.SuspectTakeoverCloses is < 0 or > 100)
        {
            yield return $"{p}Backoff:SuspectTakeoverCloses: must be 0 (off) .. 100 (got {Backoff.SuspectTakeoverCloses})";
        }

        if (MaxInflight is < 1 or > 65_535)
        {
            yield return $"{p}MaxInflight: must be 1..65535 (got {MaxInflight})";
        }

        if (MaxPending < MaxInflight)
        {
            yield return $"{p}MaxPending: must be at least MaxInflight ({MaxInflight}) (got {MaxPending})";
        }

        if (Password is not null && UserName is null && ProtocolVersion == MqttProtocolVersion.V311)
        {
            yield return $"{p}Password: MQTT 3.1.1 needs UserName when Password is set";
        }

        if (Will is { } will && !Protocol.MqttText.IsValidTopicName(will.Topic, out _))
        {
            yield return $"{p}Will:Topic: must be a non-empty topic without '+' or '#' (got \"{will.Topic}\")";
        }

        foreach (var (name, value) in new[]
                 {
                     ("ConnectTimeout", ConnectTimeout), ("TlsHandshakeTimeout", TlsHandshakeTimeout),
                     ("ConnAckTimeout", ConnAckTimeout), ("PingTimeout", PingTimeout), ("AckTimeout", AckTimeout),
                     ("DisconnectTimeout", DisconnectTimeout), ("Backoff:InitialDelay", Backoff.InitialDelay),
                     ("Backoff:MaxDelay", Backoff.MaxDelay),
                     ("Backoff:SuspectTakeoverWindow", Backoff.SuspectTakeoverWindow),
                 })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{p}{name}: must be a positive time span (got {value})";
            }
        }

        if (Backoff.Jitter is < 0 or > 1)
        {
            yield return $"{p}Backoff:Jitter: must be 0..1 (got {Backoff.Jitter})";
        }

        if (WebSocket.Enabled && (string.IsNullOrEmpty(WebSocket.Path) || WebSocket.Path[0] != '/'))
        {
            yield return $"{p}WebSocket:Path: must start with '/' (got \"{WebSocket.Path}\")";
        }

        if (Tls.Enabled)
        {
            if (Tls.CaFile is { Length: > 0 } ca && !File.Exists(ca))
            {
                yield return $"{p}Tls:CaFile: file not found ({ca})";
            }

            if ((Tls.ClientCertificateFile is null) != (Tls.ClientKeyFile is null))
            {
                yield return $"{p}Tls:ClientCertificateFile and Tls:ClientKeyFile: set both or neither";
            }
        }
    }
}
