using System.Globalization;
using System.Net;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.Options;

namespace EdgeGateway.LocalApi;

/// <summary>Options of the port-3002 API, bound from the <c>LocalApi</c> section.</summary>
public sealed class LocalApiOptions : IValidatedOptions
{
    public const string SectionName = "LocalApi";

    /// <summary>
    /// Extra names the gateway answers to in <c>Host</c> (and browser <c>Origin</c>), besides <c>localhost</c>, the machine's
    /// host name, <c>&lt;hostname&gt;.local</c> and its own IP addresses. <c>*</c> turns the check off.
    /// </summary>
    public List<string> AllowedHosts { get; set; } = [];

    public LocalApiAuthOptions Auth { get; set; } = new();

    public LocalApiLimitOptions Limits { get; set; } = new();

    public LocalApiFailsafeOptions Failsafe { get; set; } = new();

    public LocalApiCommandOptions Commands { get; set; } = new();

    public IEnumerable<string> Validate(string section)
    {
        var errors = new List<string>();
        for (var i = 0; i < AllowedHosts.Count; i++)
        {
            var h = AllowedHosts[i];
            if (h != "*" && Uri.CheckHostName(h?.Trim().TrimEnd('.')) is UriHostNameType.Unknown or UriHostNameType.Basic)
            {
                errors.Add($"{section}:AllowedHosts:{i}: must be * or a host name or IP address without scheme or port (got \"{h}\")");
            }
        }

        Auth.Validate(section + ":Auth", errors);
        Limits.Validate(section + ":Limits", errors);
        Failsafe.Validate(section + ":Failsafe", errors);
        Commands.Validate(section + ":Commands", errors);
        return errors;
    }

    internal static void Positive(List<string> errors, string key, double value, double max)
    {
        if (!(value > 0) || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: must be greater than 0 and at most {max} (got {value})"));
        }
    }

    internal static void NonNegative(List<string> errors, string key, double value, double max)
    {
        if (!(value >= 0) || value > max)
        {
            errors.Add(string.Create(CultureInfo.InvariantCulture, $"{key}: must be between 0 and {max} (got {value})"));
        }
    }
}

public sealed class LocalApiTokenOptions
{
    /// <summary>A name for logs, audit and control ("ops-laptop"). Never the token itself.</summary>
    public string Name { get; set; } = "";

    /// <summary><c>observer</c>, <c>pilot</c> or <c>admin</c>.</summary>
    public string Role { get; set; } = "";

    /// <summary><c>sha256:&lt;64 hex digits&gt;</c> of the token's UTF-8 bytes.</summary>
    public string Hash { get; set; } = "";
}

public sealed class LocalApiAuthOptions
{
    public List<LocalApiTokenOptions> Tokens { get; set; } = [];

    /// <summary>
    /// Optional file of more tokens, one per line: <c>name role secret</c> where secret is the token
    /// itself or <c>sha256:hex</c>. The file must not be readable by group or others.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>CIDR blocks whose clients get <see cref="TrustedRole"/> without a token. Default: loopback only.</summary>
    public List<string>? TrustedNetworks { get; set; }

    public string TrustedRole { get; set; } = "pilot";

    /// <summary>Role of clients outside trusted networks that present no token: <c>observer</c> or <c>none</c> (refused).</summary>
    public string AnonymousRole { get; set; } = "observer";

    /// <summary>
    /// Least role that sees the per-component detail of <c>/healthz</c>. Anonymous clients (no token, not from a
    /// trusted network) never do: they get the overall status only.
    /// </summary>
    public string HealthDetailRole { get; set; } = "observer";

    /// <summary>Least role that may read <c>/metrics</c> (anonymous clients count as <see cref="AnonymousRole"/>).</summary>
    public string MetricsRole { get; set; } = "observer";

    internal IReadOnlyList<string> EffectiveTrustedNetworks => TrustedNetworks ?? ["127.0.0.0/8", "::1/128"];

    internal void Validate(string section, List<string> errors)
    {
        for (var i = 0; i < Tokens.Count; i++)
        {
            var t = Tokens[i];
            var key = $"{section}:Tokens:{i}";
            if (string.IsNullOrWhiteSpace(t.Name))
            {
                errors.Add($"{key}:Name: must be a non-empty name");
            }

            if (!RoleNames.TryParse(t.Role, out _))
            {
                errors.Add($"{key}:Role: must be observer, pilot or admin (got \"{t.Role}\")");
            }

            if (!TokenHash.TryParse(t.Hash, out _))
            {
                errors.Add($"{key}:Hash: must be sha256: followed by 64 hex digits (the token itself is never stored in configuration)");
            }
        }

        if (!string.IsNullOrEmpty(TokenFile))
        {
            errors.AddRange(TokenFileReader.Check(TokenFile, section + ":TokenFile"));
        }

        var nets = EffectiveTrustedNetworks;
        for (var i = 0; i < nets.Count; i++)
        {
            if (!IPNetwork.TryParse(nets[i], out _))
            {
                errors.Add($"{section}:TrustedNetworks:{i}: must be a CIDR block such as 127.0.0.0/8 or 192.168.10.0/24 (got \"{nets[i]}\")");
            }
        }

        if (!RoleNames.TryParse(TrustedRole, out _))
        {
            errors.Add($"{section}:TrustedRole: must be observer, pilot or admin (got \"{TrustedRole}\")");
        }

        if (!RoleNames.TryParse(HealthDetailRole, out _))
        {
            errors.Add($"{section}:HealthDetailRole: must be observer, pilot or admin (got \"{HealthDetailRole}\")");
        }

        if (!RoleNames.TryParse(MetricsRole, out _))
        {
            errors.Add($"{section}:MetricsRole: must be observer, pilot or admin (got \"{MetricsRole}\")");
        }

        if (!string.Equals(AnonymousRole, "none", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(AnonymousRole, "observer", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"{section}:AnonymousRole: must be observer or none (got \"{AnonymousRole}\")");
        }
    }
}

public sealed class LocalApiLimitOptions
{
    /// <summary>Open WebSocket connections; one more is accepted and closed with 1013.</summary>
    public int MaxConnections { get; set; } = 2000;

    /// <summary>Largest client message (all fragments); larger closes with 1009.</summary>
    public int MaxFrameBytes { get; set; } = 16 * 1024;

    /// <summary>Sustained client messages per second; the excess is refused with an error frame.</summary>
    public double MessagesPerSecond { get; set; } = 20;

    /// <summary>Short bursts allowed above the sustained rate.</summary>
    public int MessageBurst { get; set; } = 40;

    /// <summary>Refused messages within <see cref="FloodWindowSeconds"/> after which the connection is closed with 1008.</summary>
    public int FloodCloseAfter { get; set; } = 40;

    /// <summary>
    /// The sliding window in which refused messages are counted for <see cref="FloodCloseAfter"/>; also the shortest
    /// interval between two <c>rate_limited</c> error frames to one client.
    /// </summary>
    public double FloodWindowSeconds { get; set; } = 10;

    /// <summary>No client message for this long closes the connection (1001). 0 = off (protocol pings keep dead peers out).</summary>
    public double IdleTimeoutSeconds { get; set; }

    /// <summary>Server protocol-level ping interval; a peer that does not answer within <see cref="KeepAliveTimeoutSeconds"/> is dropped.</summary>
    public double KeepAliveIntervalSeconds { get; set; } = 20;

    public double KeepAliveTimeoutSeconds { get; set; } = 40;

    /// <summary>Largest HTTP request body (execute).</summary>
    public int MaxHttpBodyBytes { get; set; } = 16 * 1024;

    /// <summary>Queued non-status messages per client (replies, events). A client whose queue overflows is closed with 1013.</summary>
    public int SendQueueCapacity { get; set; } = 256;

    /// <summary>A client whose single send has not completed for this long is closed with 1013 (it stopped reading).</summary>
    public double SlowClientTimeoutSeconds { get; set; } = 10;

    /// <summary>Commands one WebSocket client may have in flight at once.</summary>
    public int MaxCommandsInFlight { get; set; } = 8;

    /// <summary>Browser origins allowed (scheme://host[:port]); "*" allows all. Same-origin and requests without Origin are always allowed.</summary>
    public List<string> AllowedOrigins { get; set; } = [];

    internal void Validate(string section, List<string> errors)
    {
        LocalApiOptions.Positive(errors, section + ":MaxConnections", MaxConnections, 100_000);
        LocalApiOptions.Positive(errors, section + ":MaxFrameBytes", MaxFrameBytes, 16 * 1024 * 1024);
        LocalApiOptions.Positive(errors, section + ":MessagesPerSecond", MessagesPerSecond, 100_000);
        LocalApiOptions.Positive(errors, section + ":MessageBurst", MessageBurst, 100_000);
        // Bounded: each connection keeps the times of its last FloodCloseAfter refusals.
        LocalApiOptions.Positive(errors, section + ":FloodCloseAfter", FloodCloseAfter, 10_000);
        LocalApiOptions.Positive(errors, section + ":FloodWindowSeconds", FloodWindowSeconds, 3600);
        LocalApiOptions.NonNegative(errors, section + ":IdleTimeoutSeconds", IdleTimeoutSeconds, 86_400);
        LocalApiOptions.NonNegative(errors, section + ":KeepAliveIntervalSeconds", KeepAliveIntervalSeconds, 3600);
        LocalApiOptions.NonNegative(errors, section + ":KeepAliveTimeoutSeconds", KeepAliveTimeoutSeconds, 3600);
        LocalApiOptions.Positive(errors, section + ":MaxHttpBodyBytes", MaxHttpBodyBytes, 16 * 1024 * 1024);
        LocalApiOptions.Positive(errors, section + ":SendQueueCapacity", SendQueueCapacity, 100_000);
        LocalApiOptions.Positive(errors, section + ":SlowClientTimeoutSeconds", SlowClientTimeoutSeconds, 3600);
        LocalApiOptions.Positive(errors, section + ":MaxCommandsInFlight", MaxCommandsInFlight, 1000);
        for (var i = 0; i < AllowedOrigins.Count; i++)
        {
            var o = AllowedOrigins[i];
            if (o != "*" && (!Uri.TryCreate(o, UriKind.Absolute, out var uri) || uri.AbsolutePath != "/" || o.EndsWith('/')))
            {
                errors.Add($"{section}:AllowedOrigins:{i}: must be * or scheme://host[:port] without a path (got \"{o}\")");
            }
        }
    }
}

public sealed class LocalApiFailsafeOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The controlling pilot is gone after this long without any message or request from them. Longer than the
    /// 30 s status poll of the existing agent backend, so an unchanged HTTP pilot that is alive keeps control.
    /// </summary>
    public double PilotSilenceSeconds { get; set; } = 45;

    /// <summary>After the hover, land unless a pilot takes control within this time.</summary>
    public double LandGraceSeconds { get; set; } = 15;

    /// <summary>How often the failsafe checks (on the injected clock).</summary>
    public double CheckIntervalSeconds { get; set; } = 0.5;

    internal void Validate(string section, List<string> errors)
    {
        LocalApiOptions.Positive(errors, section + ":PilotSilenceSeconds", PilotSilenceSeconds, 3600);
        LocalApiOptions.NonNegative(errors, section + ":LandGraceSeconds", LandGraceSeconds, 3600);
        LocalApiOptions.Positive(errors, section + ":CheckIntervalSeconds", CheckIntervalSeconds, 60);
    }
}

public sealed class LocalApiCommandOptions
{
    /// <summary>Takeoff is refused when the battery is known and below this percentage.</summary>
    public int MinTakeoffBatteryPercent { get; set; } = 20;

    internal void Validate(string section, List<string> errors)
        => LocalApiOptions.NonNegative(errors, section + ":MinTakeoffBatteryPercent", MinTakeoffBatteryPercent, 100);
}
