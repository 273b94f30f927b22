using System.Net;
using System.Net.Sockets;
using EdgeGateway.Options;

namespace EdgeGateway.Simulator;

/// <summary>
/// Configuration of the built-in drone simulator for the daemon's simulate mode (section <c>Simulator</c>):
/// <c>Enabled</c>, <c>Drones</c>, <c>Address</c>, <c>CommandPort</c>, <c>StatePort</c>, <c>Format</c> (1.3|2.0|3.0),
/// <c>TimeScale</c>, <c>WhileBusy</c>, <c>ErrorBeforeSdkMode</c>, <c>InitialBattery</c>, <c>Faults:*</c>.
/// </summary>
public sealed class SimulatorOptions : IValidatedOptions
{
    public const string SectionName = "Simulator";

    public bool Enabled { get; set; }

    public int Drones { get; set; } = 1;

    public string Address { get; set; } = "127.0.0.2";

    public int CommandPort { get; set; } = 8889;

    public int StatePort { get; set; } = 8890;

    public string Format { get; set; } = "2.0";

    public double TimeScale { get; set; } = 1.0;

    public BusyBehaviour WhileBusy { get; set; } = BusyBehaviour.Error;

    public bool ErrorBeforeSdkMode { get; set; }

    public int InitialBattery { get; set; } = 100;

    /// <summary>State datagram interval per drone (real drones: 100 ms). Shorter makes a load for tests and benchmarks.</summary>
    public TimeSpan StateInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public TelloFaultOptions Faults { get; set; } = new();

    public IEnumerable<string> Validate(string section)
    {
        var errors = new List<string>();
        if (Drones is < 1 or > 100)
        {
            errors.Add($"{section}:Drones: must be 1..100 (got {Drones})");
        }

        if (!IPAddress.TryParse(Address, out var address) || address.AddressFamily != AddressFamily.InterNetwork)
        {
            errors.Add($"{section}:Address: must be an IPv4 address such as 127.0.0.2 (got \"{Address}\")");
        }
        else if (address.GetAddressBytes()[3] + Drones - 1 > 254)
        {
            errors.Add($"{section}:Address: {Drones} drones from {Address} would run past .254");
        }

        if (ParseFormat(Format) is null)
        {
            errors.Add($"{section}:Format: must be 1.3, 2.0 or 3.0 (got \"{Format}\")");
        }

        if (errors.Count == 0)
        {
            errors.AddRange(ToTelloOptions().Validate($"{section}:"));
        }
        else
        {
            errors.AddRange(Faults.Validate($"{section}:Faults:"));
        }

        return errors;
    }

    /// <summary>The options of the first drone (call after <see cref="Validate"/> passed).</summary>
    public TelloSimulatorOptions ToTelloOptions() => new()
    {
        Address = IPAddress.Parse(Address),
        CommandPort = CommandPort,
        StatePort = StatePort,
        Format = ParseFormat(Format) ?? TelloSdkFormat.Sdk20,
        TimeScale = TimeScale,
        WhileBusy = WhileBusy,
        ErrorBeforeSdkMode = ErrorBeforeSdkMode,
        InitialBattery = InitialBattery,
        StateInterval = StateInterval,
        Faults = Faults.Clone(),
    };

    internal static TelloSdkFormat? ParseFormat(string? value) => value switch
    {
        "1.3" or "Sdk13" => TelloSdkFormat.Sdk13,
        "2.0" or "Sdk20" => TelloSdkFormat.Sdk20,
        "3.0" or "Sdk30" => TelloSdkFormat.Sdk30,
        _ => null,
    };
}
