using System.Device.I2c;
using EdgeGateway.Sensors.Drivers;
using Iot.Device.Adc;
using Iot.Device.Bmxx80;
using Iot.Device.Imu;

namespace EdgeGateway.Sensors.I2c;

/// <summary>The chip at the address is not the configured model (its id register says otherwise).</summary>
public sealed class I2cChipMismatchException(string message) : Exception(message);

/// <summary>
/// One I2C chip read through its dotnet/iot binding. <see cref="Open"/> checks what answers at the address and
/// configures it; <see cref="Read"/> takes one sample. Both throw <see cref="IOException"/> on a bus error (NACK,
/// the bus gone). Owns the <see cref="I2cDevice"/>.
/// </summary>
internal abstract class I2cChip : IDisposable
{
    public abstract string Model { get; }

    /// <summary>Settings shown in the link summary (what the chip was configured to).</summary>
    public abstract string Settings { get; }

    public abstract I2cReading Read();

    public abstract void Dispose();

    public static I2cChip Open(I2cSensorModel model, I2cDevice device, I2cChipOptions options)
    {
        ArgumentNullException.ThrowIfNull(device);
        try
        {
            return model switch
            {
                I2cSensorModel.Bme280 or I2cSensorModel.Bmp280 => Bmx280Chip.Open(model, device),
                I2cSensorModel.Ina219 => Ina219Chip.Open(device, options),
                _ => Mpu6050Chip.Open(device),
            };
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Reads one id register the way the bindings do (pointer write, one byte read).</summary>
    protected static byte ReadRegister(I2cDevice device, byte register)
    {
        device.WriteByte(register);
        return device.ReadByte();
    }

    protected static string Hex(int value) => $"0x{value:x2}";
}

/// <summary>BME280 (pressure, temperature, humidity) or BMP280 (no humidity) through <see cref="Bme280"/> / <see cref="Bmp280"/>.</summary>
internal sealed class Bmx280Chip : I2cChip
{
    private const byte ChipIdRegister = 0xD0;
    private const byte Bme280Id = 0x60;
    private const byte Bmp280Id = 0x58;

    private readonly Bmx280Base _sensor;

    private Bmx280Chip(I2cSensorModel model, Bmx280Base sensor)
    {
        Model = model == I2cSensorModel.Bme280 ? "bme280" : "bmp280";
        _sensor = sensor;
    }

    public override string Model { get; }

    public override string Settings => "normal mode, ×1 oversampling, 125 ms standby";

    public static Bmx280Chip Open(I2cSensorModel model, I2cDevice device)
    {
        // The binding's own check names the id as a decimal; this one says what the chip is and which Device to set.
        var expected = model == I2cSensorModel.Bme280 ? Bme280Id : Bmp280Id;
        var id = ReadRegister(device, ChipIdRegister);
        if (id != expected)
        {
            var what = id switch
            {
                Bme280Id => " (a BME280: set Device=bme280)",
                Bmp280Id => " (a BMP280: set Device=bmp280)",
                0x61 => " (a BME680, which this gateway does not read)",
                _ => ": is the address right?",
            };
            throw new I2cChipMismatchException(
                $"the chip at {Hex(device.ConnectionSettings.DeviceAddress)} reports chip id {Hex(id)} where a {model.ToString().ToUpperInvariant()} has {Hex(expected)}{what}");
        }

        Bmx280Base sensor = model == I2cSensorModel.Bme280 ? new Bme280(device) : new Bmp280(device);
        // Normal mode: the chip measures continuously (every 125 ms standby by default), so a read never waits.
        sensor.SetPowerMode(Iot.Device.Bmxx80.PowerMode.Bmx280PowerMode.Normal);
        return new Bmx280Chip(model, sensor);
    }

    public override I2cReading Read()
    {
        var values = new List<(string, double)>(3);
        if (_sensor.TryReadTemperature(out var t))
        {
            values.Add(("temperature_c", Math.Round(t.DegreesCelsius, 2)));
        }

        if (_sensor.TryReadPressure(out var p))
        {
            values.Add(("pressure_hpa", Math.Round(p.Hectopascals, 2)));
        }

        if (_sensor is Bme280 bme && bme.TryReadHumidity(out var h))
        {
            values.Add(("humidity_pct", Math.Round(h.Percent, 2)));
        }

        return new I2cReading(Model, values);
    }

    public override void Dispose() => _sensor.Dispose();
}

/// <summary>
/// INA219 on the companion computer's supply through <see cref="Ina219"/>: 32 V bus range, ±320 mV shunt range, and
/// the calibration register computed from the shunt and the largest expected current (datasheet §8.5.1).
/// </summary>
internal sealed class Ina219Chip : I2cChip
{
    private readonly Ina219 _sensor;
    private readonly I2cDevice _device;
    private readonly Ina219Calibration _calibration;

    private Ina219Chip(Ina219 sensor, I2cDevice device, Ina219Calibration calibration)
    {
        _sensor = sensor;
        _device = device;
        _calibration = calibration;
    }

    public override string Model => "ina219";

    public override string Settings => $"shunt {_calibration.ShuntOhms} Ω, current LSB {_calibration.CurrentLsbA * 1e6:0.#} µA, calibration {_calibration.Register}";

    public static Ina219Chip Open(I2cDevice device, I2cChipOptions options)
    {
        // The INA219 has no id register; a NACK here means nothing answers at the address.
        var calibration = Ina219Calibration.For(options.ShuntOhms, options.MaxCurrentA);
        var sensor = new Ina219(device);
        sensor.Reset();
        sensor.BusVoltageRange = Ina219BusVoltageRange.Range32v;
        sensor.PgaSensitivity = Ina219PgaSensitivity.PlusOrMinus320mv;
        sensor.SetCalibration(calibration.Register, (float)calibration.CurrentLsbA);
        return new Ina219Chip(sensor, device, calibration);
    }

    public override I2cReading Read()
    {
        var bus = _sensor.ReadBusVoltage().Volts;
        var shunt = _sensor.ReadShuntVoltage().Volts * 1000;
        var current = _sensor.ReadCurrent().Amperes;
        var power = (double)_sensor.ReadPower().Watts;
        return new I2cReading(Model,
        [
            ("bus_voltage_v", Math.Round(bus, 3)),
            ("shunt_voltage_mv", Math.Round(shunt, 2)),
            ("current_a", Math.Round(current, 4)),
            ("power_w", Math.Round(power, 3)),
        ]);
    }

    public override void Dispose()
    {
        // Ina219(I2cDevice) does not dispose the device it was given.
        _sensor.Dispose();
        _device.Dispose();
    }
}

/// <summary>
/// MPU6050 through <see cref="Mpu6050"/>: accelerometer (±2 g) and gyroscope (±250 °/s), the binding's defaults. The
/// die temperature is left out: the binding converts it with the MPU-6500's formula, not the MPU-6050's.
/// </summary>
internal sealed class Mpu6050Chip : I2cChip
{
    private const byte WhoAmIRegister = 0x75;
    private const byte Mpu6050Id = 0x68;
    private const double StandardGravity = 9.80665;

    private readonly Mpu6050 _sensor;

    private Mpu6050Chip(Mpu6050 sensor) => _sensor = sensor;

    public override string Model => "mpu6050";

    public override string Settings => "±2 g, ±250 °/s";

    public static Mpu6050Chip Open(I2cDevice device)
    {
        var id = ReadRegister(device, WhoAmIRegister);
        if (id != Mpu6050Id)
        {
            var what = id switch
            {
                0x71 => " (an MPU-9250)",
                0x70 => " (an MPU-6500)",
                _ => ": is the address right?",
            };
            throw new I2cChipMismatchException(
                $"the chip at {Hex(device.ConnectionSettings.DeviceAddress)} reports WHO_AM_I {Hex(id)} where an MPU6050 has {Hex(Mpu6050Id)}{what}");
        }

        return new Mpu6050Chip(new Mpu6050(device));
    }

    public override I2cReading Read()
    {
        var a = _sensor.GetAccelerometer();
        var g = _sensor.GetGyroscopeReading();
        return new I2cReading(Model,
        [
            ("accel_x_g", Math.Round(a.X / StandardGravity, 4)),
            ("accel_y_g", Math.Round(a.Y / StandardGravity, 4)),
            ("accel_z_g", Math.Round(a.Z / StandardGravity, 4)),
            ("gyro_x_dps", Math.Round(g.X, 3)),
            ("gyro_y_dps", Math.Round(g.Y, 3)),
            ("gyro_z_dps", Math.Round(g.Z, 3)),
        ]);
    }

    public override void Dispose() => _sensor.Dispose();
}

/// <summary>
/// The INA219 calibration (datasheet §8.5.1): the smallest current LSB is the largest expected current / 2^15, rounded
/// up to a round 1-2-5 step; calibration = trunc(0.04096 / (current LSB × shunt)); the power LSB is 20 × current LSB.
/// </summary>
internal readonly record struct Ina219Calibration(double ShuntOhms, double CurrentLsbA, ushort Register)
{
    public static Ina219Calibration For(double shuntOhms, double maxCurrentA)
    {
        var minimum = maxCurrentA / 32768;
        var decade = Math.Pow(10, Math.Floor(Math.Log10(minimum)));
        var lsb = new[] { 1.0, 2, 5, 10 }.Select(m => m * decade).First(v => v >= minimum * (1 - 1e-9));
        var register = Math.Min(Math.Truncate(0.04096 / (lsb * shuntOhms)), 0xFFFE);
        return new Ina219Calibration(shuntOhms, lsb, (ushort)((ushort)register & 0xFFFE));
    }
}
