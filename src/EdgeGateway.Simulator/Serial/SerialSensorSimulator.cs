namespace EdgeGateway.Simulator.Serial;

/// <summary>Settings for the simulated serial sensors.</summary>
public sealed record SerialSensorSimulatorOptions
{
    /// <summary>Where to put stable symlinks (<c>gps0</c>, <c>air0</c>, <c>tfmini0</c>); null for bare <c>/dev/pts/N</c> paths.</summary>
    public string? LinkDirectory { get; init; }

    public TimeSpan GpsInterval { get; init; } = TimeSpan.FromSeconds(1);

    public TimeSpan LineInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The TFmini's output rate (the real one defaults to 100 Hz).</summary>
    public TimeSpan TfminiInterval { get; init; } = TimeSpan.FromMilliseconds(10);

    public double OriginLatDeg { get; init; } = 47.397742;

    public double OriginLonDeg { get; init; } = 8.545594;

    public double OriginAltM { get; init; } = 488.0;
}

/// <summary>
/// Serial sensors on pseudo-terminals, created in-process: a GPS following the vehicle, an air-quality
/// line sensor and a downward TFmini. The gateway reads them through its ordinary serial code at
/// <see cref="GpsDevicePath"/>, <see cref="LineSensorDevicePath"/> and <see cref="TfminiDevicePath"/>.
/// </summary>
public sealed class SerialSensorSimulator : IAsyncDisposable
{
    private readonly SerialSensorSimulatorOptions _options;
    private readonly TimeProvider _time;
    private readonly SimulatedGps _gps;
    private readonly SimulatedTfmini _tfmini;
    private readonly SimulatedLineSensor _line = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _loops = [];
    private readonly Lock _ports = new();
    private PseudoTerminal _gpsPort;
    private PseudoTerminal _linePort;
    private PseudoTerminal _tfminiPort;
    private readonly HashSet<string> _unplugged = new(StringComparer.Ordinal);

    public SerialSensorSimulator(IPositionSource position, SerialSensorSimulatorOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(position);
        _options = options ?? new SerialSensorSimulatorOptions();
        _time = time ?? TimeProvider.System;
        _gps = new SimulatedGps(position, _options.OriginLatDeg, _options.OriginLonDeg, _options.OriginAltM);
        _tfmini = new SimulatedTfmini(position);
        var dir = _options.LinkDirectory;
        _gpsPort = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, GpsId));
        _linePort = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, LineSensorId));
        _tfminiPort = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, TfminiId));
    }

    public const string GpsId = "gps0";

    public const string LineSensorId = "air0";

    public const string TfminiId = "tfmini0";

    public PseudoTerminal Gps => Volatile.Read(ref _gpsPort);

    public PseudoTerminal LineSensor => Volatile.Read(ref _linePort);

    public PseudoTerminal Tfmini => Volatile.Read(ref _tfminiPort);

    /// <summary>
    /// Pulls the USB adapter of <paramref name="id"/> (<c>gps0</c>, <c>air0</c> or <c>tfmini0</c>): the pty closes, so a
    /// reader gets EIO, and its symlink disappears. Needs <see cref="SerialSensorSimulatorOptions.LinkDirectory"/>, since a
    /// replugged adapter gets a new <c>/dev/pts/N</c> and only the link stays the same. False if it was already unplugged.
    /// </summary>
    public bool Unplug(string id)
    {
        lock (_ports)
        {
            var port = PortOf(id);
            if (port.LinkPath is null)
            {
                throw new InvalidOperationException("unplug needs a LinkDirectory: a replugged pty gets a new path");
            }

            if (!_unplugged.Add(id))
            {
                return false;
            }

            port.Dispose();
            return true;
        }
    }

    /// <summary>Plugs <paramref name="id"/> back in: a new pty behind the same symlink. False if it was not unplugged.</summary>
    public bool Replug(string id)
    {
        lock (_ports)
        {
            var old = PortOf(id);
            if (!_unplugged.Remove(id))
            {
                return false;
            }

            var port = PseudoTerminal.Open(old.LinkPath);
            switch (id)
            {
                case GpsId: Volatile.Write(ref _gpsPort, port); break;
                case LineSensorId: Volatile.Write(ref _linePort, port); break;
                default: Volatile.Write(ref _tfminiPort, port); break;
            }

            return true;
        }
    }

    private PseudoTerminal PortOf(string id) => id switch
    {
        GpsId => _gpsPort,
        LineSensorId => _linePort,
        TfminiId => _tfminiPort,
        _ => throw new ArgumentException($"unknown sensor \"{id}\" (gps0, air0 or tfmini0)", nameof(id)),
    };

    /// <summary>Writes to <paramref name="id"/>'s pty unless it is unplugged (the device has no power then).</summary>
    private void WriteTo(string id, string text) => WriteTo(id, System.Text.Encoding.ASCII.GetBytes(text));

    private void WriteTo(string id, byte[] data)
    {
        lock (_ports)
        {
            if (!_unplugged.Contains(id))
            {
                PortOf(id).Write(data);
            }
        }
    }

    /// <summary>Open this as an NMEA sensor (any baud rate; a pty ignores it).</summary>
    public string GpsDevicePath => Gps.DevicePath;

    /// <summary>Open this as a key=value line sensor: temperature (C), humidity (%), pressure (hPa), pm2_5.</summary>
    public string LineSensorDevicePath => LineSensor.DevicePath;

    /// <summary>Open this as a TFmini-S.</summary>
    public string TfminiDevicePath => Tfmini.DevicePath;

    /// <summary>Starts writing; the loops run until <see cref="DisposeAsync"/>.</summary>
    public void Start()
    {
        _loops.Add(Loop(_options.GpsInterval, now =>
        {
            foreach (var sentence in _gps.Epoch(now))
            {
                WriteTo(GpsId, sentence);
            }
        }));
        _loops.Add(Loop(_options.LineInterval, now => WriteTo(LineSensorId, _line.Line(now))));
        _loops.Add(Loop(_options.TfminiInterval, _ => WriteTo(TfminiId, _tfmini.Frame())));
    }

    private async Task Loop(TimeSpan interval, Action<DateTimeOffset> tick)
    {
        using var timer = new PeriodicTimer(interval, _time);
        try
        {
            do
            {
                try
                {
                    tick(_time.GetUtcNow());
                }
                catch (IOException)
                {
                    // A pty hiccup is not worth stopping the simulator for; the next tick tries again.
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
        }
        catch (ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_loops).ConfigureAwait(false);
        Gps.Dispose();
        LineSensor.Dispose();
        Tfmini.Dispose();
        _stop.Dispose();
    }
}
