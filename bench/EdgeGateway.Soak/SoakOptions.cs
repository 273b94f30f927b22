using System.Globalization;

namespace EdgeGateway.Soak;

/// <summary>What a soak run does. <see cref="Seed"/> decides the whole fault schedule (kinds, order, durations).</summary>
public sealed record SoakOptions
{
    public double Minutes { get; init; } = 30;

    /// <summary>WebSocket clients on the local API's <c>/ws</c>, subscribed to <c>status_updates</c>.</summary>
    public int Clients { get; init; } = 200;

    public int Seed { get; init; }

    /// <summary>Seconds between two faults (each fault runs and heals inside its slot).</summary>
    public double FaultEvery { get; init; } = 20;

    /// <summary>Scratch directory (broker, data directory mount point, control socket); deleted at the end.</summary>
    public string? WorkDirectory { get; init; }

    /// <summary>Where edge-gateway.dll and RelayReceiver.dll are (default: next to the driver).</summary>
    public string BinDirectory { get; init; } = AppContext.BaseDirectory;

    /// <summary>How long the drain after the last fault may take before the run fails.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Drone state interval of the simulator (the real Tello: 100 ms).</summary>
    public TimeSpan StateInterval { get; init; } = TimeSpan.FromMilliseconds(100);

    public static SoakOptions? Parse(string[] args, string? seedFromEnvironment)
    {
        string? Get(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }

        if (Get("--minutes") is not { } minutes || !double.TryParse(minutes, NumberStyles.Float, CultureInfo.InvariantCulture, out var m) || m <= 0)
        {
            return null;
        }

        var seedText = Get("--seed") ?? seedFromEnvironment;
        var seed = seedText is null ? Random.Shared.Next(1, int.MaxValue) : int.Parse(seedText, CultureInfo.InvariantCulture);
        return new SoakOptions
        {
            Minutes = m,
            Clients = Get("--clients") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : 200,
            Seed = seed,
            FaultEvery = Get("--fault-every") is { } f ? double.Parse(f, CultureInfo.InvariantCulture) : 20,
            WorkDirectory = Get("--work"),
        };
    }
}
