using EdgeGateway.Simulator.Serial;

namespace EdgeGateway.Simulator.I2c;

/// <summary>
/// The companion computer's own I2C sensors, emulated on bus 1 at their usual addresses: a BME280 (0x76) whose
/// pressure follows the vehicle's height, an INA219 (0x40) on a 5.1 V supply drawing a varying current through a
/// 0.1 Ω shunt, and an MPU6050 (0x68) feeling gravity plus a little vibration. The gateway reads them through the
/// real bindings via <see cref="Bus"/>'s <see cref="SimulatedI2cBus.Open"/>.
/// </summary>
public sealed class I2cSensorSimulator : IAsyncDisposable
{
    public const int BusNumber = 1;

    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);

    private readonly IPositionSource _position;
    private readonly TimeProvider _time;
    private readonly CancellationTokenSource _stop = new();
    private readonly Random _random = new(13);
    private Task? _loop;

    public I2cSensorSimulator(IPositionSource position, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(position);
        _position = position;
        _time = time ?? TimeProvider.System;
        Bus = new SimulatedI2cBus(BusNumber);
        Barometer = Bus.Add(new EmulatedBmx280(0x76));
        PowerMonitor = Bus.Add(new EmulatedIna219(0x40));
        Imu = Bus.Add(new EmulatedMpu6050(0x68));
        Step(0);
    }

    public SimulatedI2cBus Bus { get; }

    public EmulatedBmx280 Barometer { get; }

    public EmulatedIna219 PowerMonitor { get; }

    public EmulatedMpu6050 Imu { get; }

    public void Start() => _loop ??= Task.Run(RunAsync);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var started = _time.GetTimestamp();
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(Interval, _time, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            Step(_time.GetElapsedTime(started).TotalSeconds);
        }
    }

    private void Step(double seconds)
    {
        var heightM = _position.GetPosition().HeightCm / 100;
        // The standard atmosphere from a 1013.25 hPa day; the air cools 6.5 K per km and drifts slowly.
        var temperature = 18.0 + (0.5 * Math.Sin(seconds / 300)) - (0.0065 * heightM);
        var pressure = 101325 * Math.Pow(1 - (2.25577e-5 * heightM), 5.25588);
        var humidity = 55 + (3 * Math.Sin(seconds / 170));
        Barometer.SetMeasurement(temperature, pressure, humidity);

        // A companion computer: ~0.6 A idle, bursts of load; the supply sags a little with the load.
        var current = 0.6 + (0.25 * Math.Max(0, Math.Sin(seconds / 7))) + (0.02 * _random.NextDouble());
        PowerMonitor.SetMeasurement(5.1 - (0.05 * current), current * 0.1);

        double Noise(double amplitude) => amplitude * ((_random.NextDouble() * 2) - 1);
        Imu.SetMotion((Noise(0.01), Noise(0.01), 1 + Noise(0.01)), (Noise(0.5), Noise(0.5), Noise(0.5)), 30);
    }
}
