using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Simulator;

/// <summary>
/// N simulated drones on consecutive addresses (127.0.0.2, 127.0.0.3, ...), each with its own serial and
/// fault seed, for the daemon's simulate mode, the standalone simulator and tests.
/// </summary>
public sealed class TelloFleetSimulator : IAsyncDisposable
{
    private readonly List<TelloSimulator> _drones = [];
    private readonly TelloSimulatorOptions _template;
    private readonly int _count;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory? _loggerFactory;

    public TelloFleetSimulator(TelloSimulatorOptions template, int count, TimeProvider? time = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (template.Address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new ArgumentException("A fleet needs an IPv4 address to count up from.", nameof(template));
        }

        _ = AddressFor(template.Address, count - 1); // fails early when the range runs past .254
        _template = template.Clone();
        _count = count;
        _time = time ?? TimeProvider.System;
        _loggerFactory = loggerFactory;
    }

    public IReadOnlyList<TelloSimulator> Drones => _drones;

    /// <summary>Options of drone <paramref name="index"/>: the next address, a distinct serial, seed + index.</summary>
    public static TelloSimulatorOptions OptionsFor(TelloSimulatorOptions template, int index)
    {
        ArgumentNullException.ThrowIfNull(template);
        var options = template.Clone();
        options.Address = AddressFor(template.Address, index);
        options.SerialNumber = SerialFor(template.SerialNumber, index);
        if (template.Faults.Seed is { } seed)
        {
            options.Faults.Seed = unchecked(seed + index);
        }

        return options;
    }

    /// <summary>Starts every drone; if one cannot bind, the ones already started are stopped and the error is rethrown.</summary>
    public async Task StartAsync(CancellationToken ct = default)
    {
        if (_drones.Count > 0)
        {
            throw new InvalidOperationException("The fleet is already started.");
        }

        try
        {
            for (var i = 0; i < _count; i++)
            {
                var options = OptionsFor(_template, i);
                var logger = _loggerFactory?.CreateLogger($"EdgeGateway.Simulator.Tello.{options.SerialNumber}");
                var drone = new TelloSimulator(options, _time, logger);
                _drones.Add(drone);
                await drone.StartAsync(ct).ConfigureAwait(false);
            }
        }
        catch
        {
            await DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var drone in _drones)
        {
            await drone.DisposeAsync().ConfigureAwait(false);
        }

        _drones.Clear();
    }

    internal static IPAddress AddressFor(IPAddress first, int index)
    {
        var bytes = first.GetAddressBytes();
        var last = bytes[3] + index;
        if (last > 254)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Drone {index + 1} would need address {bytes[0]}.{bytes[1]}.{bytes[2]}.{last}, past .254.");
        }

        bytes[3] = (byte)last;
        return new IPAddress(bytes);
    }

    /// <summary>Drone 0 keeps the serial; drone i gets its last three characters replaced by i (still 14 characters).</summary>
    internal static string SerialFor(string serial, int index)
        => index == 0 ? serial : serial.Length > 3 ? serial[..^3] + index.ToString("D3", System.Globalization.CultureInfo.InvariantCulture) : serial + index;
}
