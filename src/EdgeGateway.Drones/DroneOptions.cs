using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using EdgeGateway.Options;

namespace EdgeGateway.Drones;

/// <summary>One configured drone.</summary>
public sealed class DroneEndpointOptions
{
    /// <summary>Id used in streams, the API and metrics, e.g. <c>tello-1</c>.</summary>
    public string Id { get; set; } = "";

    /// <summary><c>HOST</c> or <c>HOST:PORT</c> (HOST an IP address; IPv6 as <c>[::1]:8889</c>). Port defaults to 8889.</summary>
    public string Address { get; set; } = "";
}

/// <summary>Options for the drone links (configuration section <c>Drones</c>).</summary>
public sealed partial class DroneOptions : IValidatedOptions
{
    public const string SectionName = "Drones";
    public const int DefaultDronePort = 8889;

    /// <summary>The drones, in order; the first is the default.</summary>
    public List<DroneEndpointOptions> Items { get; set; } = [];

    /// <summary>Local address both sockets bind to. On one machine with a loopback simulator use 127.0.0.1.</summary>
    public string LocalAddress { get; set; } = "0.0.0.0";

    /// <summary>Local command port; replies come back to it. 0 = ephemeral (tests).</summary>
    public int CommandPort { get; set; } = 8889;

    /// <summary>Local state port every drone sends telemetry to. 0 = ephemeral (tests).</summary>
    public int StatePort { get; set; } = 8890;

    /// <summary>Timeout for <c>command</c>, reads, settings, keepalive and stop.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(2);

    public TimeSpan TakeoffTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public TimeSpan LandTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Added to a move's expected duration (distance/speed) to give its timeout.</summary>
    public TimeSpan MoveTimeoutMargin { get; set; } = TimeSpan.FromSeconds(7);

    /// <summary>Timeout for <c>go</c>, <c>curve</c> and <c>jump</c>.</summary>
    public TimeSpan GoCurveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>State older than this: degraded.</summary>
    public TimeSpan DegradedAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>State older than this: lost (the link re-sends <c>command</c> until state resumes).</summary>
    public TimeSpan LostAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often <c>command</c> is re-sent while connecting or lost.</summary>
    public TimeSpan ReconnectInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Idle time while airborne after which a keepalive is sent. Zero disables keepalive.</summary>
    public TimeSpan KeepaliveInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Minimum gap between the previous reply (or timeout) and the next queued send.</summary>
    public TimeSpan MinCommandGap { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Extra attempts for reads and <c>command</c> after a timeout or a mismatched reply. Motion is never retried.</summary>
    public int ReadRetries { get; set; } = 1;

    /// <summary>Commands waiting per drone; beyond this a command is refused as Busy.</summary>
    public int QueueCapacity { get; set; } = 16;

    /// <summary><c>sn?</c> attempts when resynchronising after a timeout or mismatch.</summary>
    public int ResyncAttempts { get; set; } = 3;

    /// <summary>Send <c>land</c> to airborne drones on shutdown.</summary>
    public bool LandOnShutdown { get; set; } = true;

    /// <summary>
    /// Send <c>land</c> (best effort) when the link goes lost while the drone is airborne, and once more when
    /// state comes back showing it still airborne with no pilot command since.
    /// </summary>
    public bool LandOnLinkLoss { get; set; } = true;

    /// <summary>
    /// After <c>error Not joystick</c> to a move: how long to wait for state showing a hover (vg* about 0)
    /// before retrying it once. No hover by then: the error is returned. Zero disables the retry.
    /// </summary>
    public TimeSpan NotJoystickHoverTimeout { get; set; } = TimeSpan.FromSeconds(5);

    public IEnumerable<string> Validate(string section)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        var addresses = new HashSet<IPAddress>();
        for (var i = 0; i < Items.Count; i++)
        {
            var item = Items[i];
            var key = $"{section}:Items:{i}";
            if (item is null)
            {
                yield return $"{key}: must be an object with Id and Address";
                continue;
            }

            if (string.IsNullOrWhiteSpace(item.Id) || !IdPattern().IsMatch(item.Id))
            {
                yield return $"{key}:Id: must be 1-32 characters of a-z, A-Z, 0-9, '-' or '_' (got \"{item.Id}\")";
            }
            else if (!ids.Add(item.Id))
            {
                yield return $"{key}:Id: must be unique; \"{item.Id}\" is used twice";
            }

            if (!TryParseAddress(item.Address, out var endpoint))
            {
                yield return $"{key}:Address: must be HOST or HOST:PORT with HOST an IP address and PORT 1-65535 (got \"{item.Address}\")";
            }
            else if (!addresses.Add(endpoint.Address))
            {
                yield return $"{key}:Address: each drone needs its own IP address (replies are told apart by source IP); {endpoint.Address} is used twice";
            }
        }

        if (!IPAddress.TryParse(LocalAddress, out _))
        {
            yield return $"{section}:LocalAddress: must be an IP address such as 0.0.0.0 or 127.0.0.1 (got \"{LocalAddress}\")";
        }

        foreach (var (name, port) in new[] { (nameof(CommandPort), CommandPort), (nameof(StatePort), StatePort) })
        {
            if (port is < 0 or > 65535)
            {
                yield return $"{section}:{name}: must be 0-65535 (0 = any free port) (got {port})";
            }
        }

        if (CommandPort == StatePort && CommandPort != 0)
        {
            yield return $"{section}:StatePort: must differ from {section}:CommandPort (both {StatePort})";
        }

        var spans = new (string Name, TimeSpan Value, TimeSpan Min, TimeSpan Max)[]
        {
            (nameof(CommandTimeout), CommandTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1)),
            (nameof(TakeoffTimeout), TakeoffTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5)),
            (nameof(LandTimeout), LandTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5)),
            (nameof(MoveTimeoutMargin), MoveTimeoutMargin, TimeSpan.Zero, TimeSpan.FromMinutes(5)),
            (nameof(GoCurveTimeout), GoCurveTimeout, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(10)),
            (nameof(DegradedAfter), DegradedAfter, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(1)),
            (nameof(LostAfter), LostAfter, TimeSpan.FromMilliseconds(100), TimeSpan.FromMinutes(5)),
            (nameof(ReconnectInterval), ReconnectInterval, TimeSpan.FromMilliseconds(50), TimeSpan.FromMinutes(5)),
            (nameof(KeepaliveInterval), KeepaliveInterval, TimeSpan.Zero, TimeSpan.FromSeconds(14)),
            (nameof(MinCommandGap), MinCommandGap, TimeSpan.Zero, TimeSpan.FromSeconds(5)),
            (nameof(NotJoystickHoverTimeout), NotJoystickHoverTimeout, TimeSpan.Zero, TimeSpan.FromMinutes(1)),
        };
        foreach (var (name, value, min, max) in spans)
        {
            if (value < min || value > max)
            {
                yield return string.Create(CultureInfo.InvariantCulture,
                    $"{section}:{name}: must be between {min:c} and {max:c} (got {value:c})");
            }
        }

        if (LostAfter <= DegradedAfter)
        {
            yield return string.Create(CultureInfo.InvariantCulture,
                $"{section}:LostAfter: must be longer than {section}:DegradedAfter ({DegradedAfter:c}) (got {LostAfter:c})");
        }

        if (ReadRetries is < 0 or > 5)
        {
            yield return $"{section}:ReadRetries: must be 0-5 (got {ReadRetries})";
        }

        if (QueueCapacity is < 1 or > 1000)
        {
            yield return $"{section}:QueueCapacity: must be 1-1000 (got {QueueCapacity})";
        }

        if (ResyncAttempts is < 1 or > 10)
        {
            yield return $"{section}:ResyncAttempts: must be 1-10 (got {ResyncAttempts})";
        }
    }

    /// <summary>Parses <c>HOST</c> or <c>HOST:PORT</c>; HOST must be an IP address (demultiplexing is by source IP).</summary>
    public static bool TryParseAddress(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        text = text.Trim();
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        if (IPAddress.TryParse(text, out var bare) && !text.StartsWith('['))
        {
            // A bare IPv6 address contains colons; it has no port.
            endpoint = new IPEndPoint(bare, DefaultDronePort);
            return true;
        }

        if (!IPEndPoint.TryParse(text, out var parsed) || parsed.Port == 0)
        {
            return false;
        }

        endpoint = parsed;
        return true;
    }

    /// <summary>
    /// Turns repeated <c>--drone HOST[:PORT]</c> values into drone entries with ids <c>tello-1</c>, <c>tello-2</c> …
    /// Values are not validated here; <see cref="Validate"/> reports bad ones with their key.
    /// </summary>
    public static List<DroneEndpointOptions> FromCommandLine(IEnumerable<string> droneArguments)
    {
        ArgumentNullException.ThrowIfNull(droneArguments);
        var list = new List<DroneEndpointOptions>();
        foreach (var value in droneArguments)
        {
            list.Add(new DroneEndpointOptions
            {
                Id = string.Create(CultureInfo.InvariantCulture, $"tello-{list.Count + 1}"),
                Address = value.Trim(),
            });
        }

        return list;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,32}$")]
    private static partial Regex IdPattern();
}
