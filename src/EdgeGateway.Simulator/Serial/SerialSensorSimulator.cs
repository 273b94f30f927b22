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

    public SerialSensorSimulator(IPositionSource position, SerialSensorSimulatorOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(position);
        _options = options ?? new SerialSensorSimulatorOptions();
        _time = time ?? TimeProvider.System;
        _gps = new SimulatedGps(position, _options.OriginLatDeg, _options.OriginLonDeg, _options.OriginAltM);
        _tfmini = new SimulatedTfmini(position);
        var dir = _options.LinkDirectory;
        Gps = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, "gps0"));
        LineSensor = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, "air0"));
        Tfmini = PseudoTerminal.Open(dir is null ? null : Path.Combine(dir, "tfmini0"));
    }

    public PseudoTerminal Gps { get; }

    public PseudoTerminal LineSensor { get; }

    public PseudoTerminal Tfmini { get; }

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
                Gps.Write(sentence);
            }
        }));
        _loops.Add(Loop(_options.LineInterval, now => LineSensor.Write(_line.Line(now))));
        _loops.Add(Loop(_options.TfminiInterval, _ => Tfmini.Write(_tfmini.Frame())));
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
