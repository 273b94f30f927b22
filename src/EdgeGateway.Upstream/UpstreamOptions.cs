using System.Text.RegularExpressions;
using EdgeGateway.Mqtt;
using EdgeGateway.Options;

namespace EdgeGateway.Upstream;

/// <summary>How an MQTT payload is compressed (announced in the <c>content-encoding</c> user property on v5).</summary>
public enum PayloadCompression
{
    None = 0,
    Gzip = 1,
}

/// <summary>Options bound from the <c>Upstream</c> section.</summary>
public sealed partial class UpstreamOptions : IValidatedOptions
{
    /// <summary>Gateway identity in topics, record ids and relay frames. Empty: the host name (sanitised).</summary>
    public string GatewayId { get; set; } = "";

    public MqttSinkOptions Mqtt { get; set; } = new();

    public RelaySinkOptions Relay { get; set; } = new();

    /// <summary>The dead-letter table for records an upstream refused for good (<c>Upstream:DeadLetters</c>).</summary>
    public DeadLetterOptions DeadLetters { get; set; } = new();

    /// <summary><see cref="GatewayId"/>, or the host name reduced to the allowed characters.</summary>
    public string EffectiveGatewayId
    {
        get
        {
            if (!string.IsNullOrWhiteSpace(GatewayId))
            {
                return GatewayId;
            }

            var host = InvalidIdChars().Replace(Environment.MachineName.ToLowerInvariant(), "-");
            return host.Length is > 0 and <= 64 ? host : "edge-gateway";
        }
    }

    public IEnumerable<string> Validate(string section)
    {
        if (!string.IsNullOrEmpty(GatewayId) && !ValidId().IsMatch(GatewayId))
        {
            yield return $"{section}:GatewayId: must be 1..64 of A-Z a-z 0-9 . _ - (got \"{GatewayId}\")";
        }

        if (Mqtt.Enabled)
        {
            foreach (var p in Mqtt.Validate($"{section}:Mqtt"))
            {
                yield return p;
            }
        }

        if (Relay.Enabled)
        {
            foreach (var p in Relay.Validate($"{section}:Relay"))
            {
                yield return p;
            }
        }

        if (DeadLetters.MaxRows is < 1 or > 10_000_000)
        {
            yield return $"{section}:DeadLetters:MaxRows: must be 1..10000000 (got {DeadLetters.MaxRows})";
        }

        if (Mqtt.Enabled && Relay.Enabled && string.Equals(Mqtt.Name, Relay.Name, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"{section}:Relay:Name: must differ from {section}:Mqtt:Name (each sink has its own cursor) (both \"{Mqtt.Name}\")";
        }
    }

    internal static IEnumerable<string> ValidateSinkName(string section, string name)
    {
        if (!ValidId().IsMatch(name ?? ""))
        {
            yield return $"{section}:Name: must be 1..64 of A-Z a-z 0-9 . _ - (got \"{name}\")";
        }
    }

    internal static IEnumerable<string> ValidateBackoff(string section, MqttBackoffOptions b)
    {
        if (b.InitialDelay <= TimeSpan.Zero || b.MaxDelay < b.InitialDelay)
        {
            yield return $"{section}:Backoff: need 0 < InitialDelay <= MaxDelay (got {b.InitialDelay}, {b.MaxDelay})";
        }

        if (b.Jitter is < 0 or > 1)
        {
            yield return $"{section}:Backoff:Jitter: must be 0..1 (got {b.Jitter})";
        }

        if (b.RefusedDelay < TimeSpan.Zero || b.StableAfter < TimeSpan.Zero)
        {
            yield return $"{section}:Backoff:RefusedDelay/StableAfter: must be 0 or positive (got {b.RefusedDelay}, {b.StableAfter})";
        }

        // Mirrors MqttClientOptions.Validate: a value it refuses would otherwise throw at service resolution, not exit 78.
        if (b.SuspectTakeoverCloses is < 0 or > 100)
        {
            yield return $"{section}:Backoff:SuspectTakeoverCloses: must be 0 (off) .. 100 (got {b.SuspectTakeoverCloses})";
        }

        if (b.SuspectTakeoverWindow <= TimeSpan.Zero)
        {
            yield return $"{section}:Backoff:SuspectTakeoverWindow: must be a positive time span (got {b.SuspectTakeoverWindow})";
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex ValidId();

    [GeneratedRegex("[^a-z0-9._-]")]
    private static partial Regex InvalidIdChars();
}

/// <summary>The dead-letter table (<c>Upstream:DeadLetters</c>); see <see cref="DeadLetterStore"/>.</summary>
public sealed class DeadLetterOptions
{
    /// <summary>Directory of <c>dead-letters.db</c>; empty: the buffer's <c>Buffer:DataDirectory</c> (next to the buffer).</summary>
    public string Directory { get; set; } = "";

    /// <summary>Most rows kept; above it the oldest are deleted (and counted).</summary>
    public int MaxRows { get; set; } = 10_000;
}

/// <summary>The MQTT sink (<c>Upstream:Mqtt</c>).</summary>
public sealed class MqttSinkOptions
{
    public bool Enabled { get; set; }

    /// <summary>Sink name: key of its cursor and of <c>Buffer:Sinks:&lt;Name&gt;</c>.</summary>
    public string Name { get; set; } = "mqtt";

    public string Host { get; set; } = "127.0.0.1";

    /// <summary>0 = 1883, or 8883 with TLS (80 / 443 over WebSocket).</summary>
    public int Port { get; set; }

    /// <summary>Empty: <c>edgegw-{gateway_id}</c>.</summary>
    public string ClientId { get; set; } = "";

    public MqttProtocolVersion ProtocolVersion { get; set; } = MqttProtocolVersion.V500;

    public string? UserName { get; set; }

    public string? Password { get; set; }

    /// <summary>
    /// A file holding the password (mode 600; a trailing newline is ignored), read by the daemon at start so the
    /// password stays off the command line; <c>$CREDENTIALS_DIRECTORY/upstream-password</c> is used when this is unset.
    /// </summary>
    public string? PasswordFile { get; set; }

    public MqttTlsOptions Tls { get; set; } = new();

    /// <summary>MQTT over WebSocket (<c>mqtt+ws://</c>, <c>mqtt+wss://</c> with <see cref="Tls"/>); proxy from https_proxy / http_proxy.</summary>
    public MqttWebSocketOptions WebSocket { get; set; } = new();

    /// <summary>Topic per record; <c>{gateway_id}</c>, <c>{stream}</c> and <c>{kind}</c> are replaced.</summary>
    public string TopicTemplate { get; set; } = "edge/{gateway_id}/{stream}";

    /// <summary>Retained <c>online</c>/<c>offline</c> (the will); empty disables it.</summary>
    public string StatusTopic { get; set; } = "edge/{gateway_id}/status";

    /// <summary>Most QoS 1 messages unacknowledged on the connection (further capped by the broker's Receive Maximum).</summary>
    public int MaxInflight { get; set; } = 100;

    /// <summary>Records per MQTT message (same stream, consecutive); 1 = one record per message (default).</summary>
    public int BatchRecords { get; set; } = 1;

    public PayloadCompression Compression { get; set; } = PayloadCompression.None;

    /// <summary>Payloads at least this large are compressed (when <see cref="Compression"/> is on).</summary>
    public int CompressionMinBytes { get; set; } = 256;

    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>With messages in flight, the longest time without a PUBACK before the link is declared dead.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Largest PUBLISH packet the client sends (128..268435460 bytes); a larger record is dead-lettered as PacketTooLarge
    /// without being sent. Default 1 MiB.
    /// </summary>
    public int MaximumOutgoingPacketSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// Poison guard (MQTT 3.1.1 only, which has no way to refuse a message): after this many server closes right after the
    /// same oldest unacknowledged message, it is dead-lettered as ConnectionDropped. 0 turns the guard off (0..100; default 3).
    /// </summary>
    public int PoisonDropLimit { get; set; } = 3;

    public MqttBackoffOptions Backoff { get; set; } = new();

    public IEnumerable<string> Validate(string section)
    {
        foreach (var p in UpstreamOptions.ValidateSinkName(section, Name))
        {
            yield return p;
        }

        if (string.IsNullOrWhiteSpace(Host))
        {
            yield return $"{section}:Host: must be a host name or IP address (got empty)";
        }

        if (Port is < 0 or > 65_535)
        {
            yield return $"{section}:Port: must be 1..65535, or 0 for the default (got {Port})";
        }

        if (ProtocolVersion is not (MqttProtocolVersion.V311 or MqttProtocolVersion.V500))
        {
            yield return $"{section}:ProtocolVersion: must be V311 or V500 (got {ProtocolVersion})";
        }

        if (string.IsNullOrWhiteSpace(TopicTemplate) || !TopicTemplate.Contains("{stream}", StringComparison.Ordinal)
            || TopicTemplate.IndexOfAny(['+', '#']) >= 0)
        {
            yield return $"{section}:TopicTemplate: must contain {{stream}} and no '+' or '#' (got \"{TopicTemplate}\")";
        }

        if (StatusTopic.IndexOfAny(['+', '#']) >= 0)
        {
            yield return $"{section}:StatusTopic: must be a topic without '+' or '#', or empty to disable (got \"{StatusTopic}\")";
        }

        if (MaxInflight is < 1 or > 65_535)
        {
            yield return $"{section}:MaxInflight: must be 1..65535 (got {MaxInflight})";
        }

        if (MaximumOutgoingPacketSize is < 128 or > 268_435_460)
        {
            yield return $"{section}:MaximumOutgoingPacketSize: must be 128..268435460 bytes (got {MaximumOutgoingPacketSize})";
        }

        if (PoisonDropLimit is < 0 or > 100)
        {
            yield return $"{section}:PoisonDropLimit: must be 0 (off) .. 100 (got {PoisonDropLimit})";
        }

        if (BatchRecords is < 1 or > 10_000)
        {
            yield return $"{section}:BatchRecords: must be 1..10000 (got {BatchRecords})";
        }

        if (!Enum.IsDefined(Compression))
        {
            yield return $"{section}:Compression: must be None or Gzip (got {Compression})";
        }

        if (CompressionMinBytes < 0)
        {
            yield return $"{section}:CompressionMinBytes: must be 0 or more (got {CompressionMinBytes})";
        }

        if (Password is not null && UserName is null && ProtocolVersion == MqttProtocolVersion.V311)
        {
            yield return $"{section}:Password: MQTT 3.1.1 needs UserName when Password is set";
        }

        foreach (var (name, value) in new[] { ("KeepAlive", KeepAlive), ("PingTimeout", PingTimeout), ("ConnectTimeout", ConnectTimeout), ("AckTimeout", AckTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{section}:{name}: must be a positive time span (got {value})";
            }
        }

        if (WebSocket.Enabled && (string.IsNullOrEmpty(WebSocket.Path) || WebSocket.Path[0] != '/'))
        {
            yield return $"{section}:WebSocket:Path: must start with '/' (got \"{WebSocket.Path}\")";
        }

        if (Tls.Enabled && Tls.CaFile is { Length: > 0 } ca && !File.Exists(ca))
        {
            yield return $"{section}:Tls:CaFile: file not found ({ca})";
        }

        foreach (var p in UpstreamOptions.ValidateBackoff(section, Backoff))
        {
            yield return p;
        }
    }
}

/// <summary>The WebSocket relay sink (<c>Upstream:Relay</c>); protocol in docs/relay-protocol.md.</summary>
public sealed class RelaySinkOptions
{
    public bool Enabled { get; set; }

    public string Name { get; set; } = "relay";

    /// <summary><c>ws://</c> or <c>wss://</c> URL of the receiver.</summary>
    public string Url { get; set; } = "";

    /// <summary>Sent as <c>Authorization: Bearer &lt;Token&gt;</c>. Never logged.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// A file holding the token (mode 600; a trailing newline is ignored), read by the daemon at start;
    /// <c>$CREDENTIALS_DIRECTORY/upstream-token</c> is used when this is unset.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>PEM CA the receiver's certificate must chain to (wss); empty: the system trust store.</summary>
    public string? CaFile { get; set; }

    /// <summary>WebSocket PING interval.</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a PING may stay without PONG before the link is declared dead.</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest one frame may take to be written.</summary>
    public TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>With records unacknowledged, the longest time without an ack before the connection is dropped.</summary>
    public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public MqttBackoffOptions Backoff { get; set; } = new();

    public IEnumerable<string> Validate(string section)
    {
        foreach (var p in UpstreamOptions.ValidateSinkName(section, Name))
        {
            yield return p;
        }

        if (!Uri.TryCreate(Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("ws" or "wss") || !string.IsNullOrEmpty(uri.UserInfo))
        {
            yield return $"{section}:Url: must be an absolute ws:// or wss:// URL without credentials (got \"{UpstreamUrl.Redact(Url)}\")";
        }

        if (string.IsNullOrEmpty(Token))
        {
            yield return $"{section}:Token: must be set (sent as a bearer token; or EDGEGW_UPSTREAM_TOKEN with --upstream)";
        }
        else if (Token.Any(c => c < 0x21 || c > 0x7E))
        {
            yield return $"{section}:Token: must be printable ASCII without spaces";
        }

        if (CaFile is { Length: > 0 } ca && !File.Exists(ca))
        {
            yield return $"{section}:CaFile: file not found ({ca})";
        }

        foreach (var (name, value) in new[] { ("KeepAlive", KeepAlive), ("PingTimeout", PingTimeout), ("ConnectTimeout", ConnectTimeout), ("SendTimeout", SendTimeout), ("AckTimeout", AckTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"{section}:{name}: must be a positive time span (got {value})";
            }
        }

        foreach (var p in UpstreamOptions.ValidateBackoff(section, Backoff))
        {
            yield return p;
        }
    }
}
