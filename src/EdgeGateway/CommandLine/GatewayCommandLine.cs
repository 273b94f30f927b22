using System.Diagnostics.CodeAnalysis;

namespace EdgeGateway.CommandLine;

/// <summary>
/// The daemon's own flags. Everything else (<c>--urls</c>, <c>--Section:Key=value</c>) is left for
/// the standard .NET command-line configuration provider.
/// </summary>
public sealed record GatewayCommandLine
{
    public bool Simulate { get; init; }
    public bool Help { get; init; }
    public bool Version { get; init; }
    public IReadOnlyList<string> Drones { get; init; } = [];
    public IReadOnlyList<string> Upstreams { get; init; } = [];
    public IReadOnlyList<string> ConfigFiles { get; init; } = [];
    public string? DataDirectory { get; init; }

    /// <summary>Arguments not recognised here, passed on unchanged to the configuration system.</summary>
    public IReadOnlyList<string> Rest { get; init; } = [];

    public const string Usage = """
        Usage: edge-gateway [options] [--Section:Key=value ...]

          --simulate             start the built-in simulator (a Tello on loopback, serial sensors on
                                 pseudo-terminals) and point the gateway at it; no hardware needed
          --drone HOST[:PORT]    a Tello at that address (repeatable; port defaults to 8889)
          --upstream URL         an upstream sink: mqtt://, mqtts://, ws:// or wss:// (repeatable)
          --config FILE          an extra JSON configuration file (repeatable; later files win)
          --data-dir DIR         where the buffer and other state live (default: ./data)
          --urls URLS            local API address (default http://0.0.0.0:3002)
          --Section:Key=value    override any configuration key (see README)
          --help, --version

        Precedence, lowest first: appsettings.json, --config files, environment variables
        (Section__Key=value, then EDGEGW_Section__Key=value), the command line.
        """;

    /// <summary>Parses the daemon's flags; returns false with a message for a bad command line.</summary>
    public static bool TryParse(IReadOnlyList<string> args, [NotNullWhen(true)] out GatewayCommandLine? result,
        [NotNullWhen(false)] out string? error)
    {
        var drones = new List<string>();
        var upstreams = new List<string>();
        var configs = new List<string>();
        var rest = new List<string>();
        string? dataDir = null;
        bool simulate = false, help = false, version = false;
        result = null;

        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var (name, inlineValue) = SplitInline(arg);
            switch (name)
            {
                case "--simulate":
                    if (inlineValue is not null && !bool.TryParse(inlineValue, out simulate))
                    {
                        error = $"--simulate takes no value or true/false (got \"{inlineValue}\")";
                        return false;
                    }

                    simulate = inlineValue is null || simulate;
                    break;
                case "--help" or "-h" or "-?":
                    help = true;
                    break;
                case "--version":
                    version = true;
                    break;
                case "--drone" or "--upstream" or "--config" or "--data-dir":
                    string value;
                    if (inlineValue is not null)
                    {
                        value = inlineValue;
                    }
                    else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    {
                        value = args[++i];
                    }
                    else
                    {
                        error = $"{name} needs a value";
                        return false;
                    }

                    if (string.IsNullOrWhiteSpace(value))
                    {
                        error = $"{name} needs a non-empty value";
                        return false;
                    }

                    switch (name)
                    {
                        case "--drone": drones.Add(value); break;
                        case "--upstream": upstreams.Add(value); break;
                        case "--config": configs.Add(value); break;
                        default: dataDir = value; break;
                    }

                    break;
                default:
                    rest.Add(arg);
                    break;
            }
        }

        result = new GatewayCommandLine
        {
            Simulate = simulate,
            Help = help,
            Version = version,
            Drones = drones,
            Upstreams = upstreams,
            ConfigFiles = configs,
            DataDirectory = dataDir,
            Rest = rest,
        };
        error = null;
        return true;
    }

    private static (string Name, string? Value) SplitInline(string arg)
    {
        if (arg.StartsWith("--", StringComparison.Ordinal))
        {
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            // --Section:Key=value is configuration, not one of ours.
            if (eq > 0 && !arg.AsSpan(0, eq).Contains(':'))
            {
                return (arg[..eq], arg[(eq + 1)..]);
            }
        }

        return (arg, null);
    }
}
