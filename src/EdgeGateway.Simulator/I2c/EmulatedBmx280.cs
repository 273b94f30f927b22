using System.Buffers.Binary;

namespace EdgeGateway.Simulator.I2c;

/// <summary>Trimming parameters of a BMx280 (datasheet: calib00…calib25 at 0x88–0xA1, calib26…41 at 0xE1–0xF0).</summary>
public sealed record Bmx280Calibration
{
    /// <summary>
    /// The BMP280 datasheet's worked example (section 3.12), with humidity trimming typical of a BME280 part.
    /// With raw readings <c>adc_T = 519888</c> and <c>adc_P = 415148</c> the datasheet gives 25.08 °C and 100653 Pa.
    /// </summary>
    public static Bmx280Calibration DatasheetExample { get; } = new();

    public ushort T1 { get; init; } = 27504;
    public short T2 { get; init; } = 26435;
    public short T3 { get; init; } = -1000;
    public ushort P1 { get; init; } = 36477;
    public short P2 { get; init; } = -10685;
    public short P3 { get; init; } = 3024;
    public short P4 { get; init; } = 2855;
    public short P5 { get; init; } = 140;
    public short P6 { get; init; } = -7;
    public short P7 { get; init; } = 15500;
    public short P8 { get; init; } = -14600;
    public short P9 { get; init; } = 6000;
    public byte H1 { get; init; } = 75;
    public short H2 { get; init; } = 362;
    public byte H3 { get; init; }
    public short H4 { get; init; } = 324;
    public short H5 { get; init; } = 50;
    public sbyte H6 { get; init; } = 30;
}

/// <summary>
/// A Bosch BME280 (chip id 0x60: pressure, temperature, humidity) or BMP280 (0x58: no humidity) register map:
/// chip id at 0xD0, soft reset at 0xE0, ctrl_hum 0xF2, status 0xF3, ctrl_meas 0xF4, config 0xF5, the data
/// registers 0xF7–0xFE (pressure and temperature 20 bit, big-endian with the low nibble in xlsb[7:4]; humidity
/// 16 bit). Raw readings are set directly (<see cref="SetRaw"/>) or from physical values (<see cref="SetMeasurement"/>),
/// which inverts the datasheet's compensation with its own copy of the formulas.
/// </summary>
public sealed class EmulatedBmx280 : ByteRegisterChip
{
    public const byte Bme280ChipId = 0x60;
    public const byte Bmp280ChipId = 0x58;

    private const byte ChipIdRegister = 0xD0;
    private const byte ResetRegister = 0xE0;
    private const byte PressureMsb = 0xF7;
    private const byte TemperatureMsb = 0xFA;
    private const byte HumidityMsb = 0xFD;

    private readonly Bmx280Calibration _cal;

    public EmulatedBmx280(int address = 0x76, byte chipId = Bme280ChipId, Bmx280Calibration? calibration = null)
        : base(address)
    {
        ChipId = chipId;
        _cal = calibration ?? Bmx280Calibration.DatasheetExample;
        Registers[ChipIdRegister] = chipId;
        WriteCalibration();
        SetRaw(519888, 415148, 0x8000);
    }

    public byte ChipId { get; }

    public bool HasHumidity => ChipId == Bme280ChipId;

    /// <summary>Power mode bits of ctrl_meas: 0 sleep, 1/2 forced, 3 normal.</summary>
    public int PowerMode => Registers[0xF4] & 0b11;

    public void SetRaw(int adcT, int adcP, int adcH) => Update(() =>
    {
        Write20(TemperatureMsb, adcT);
        Write20(PressureMsb, adcP);
        if (HasHumidity)
        {
            BinaryPrimitives.WriteUInt16BigEndian(Registers.AsSpan(HumidityMsb, 2), (ushort)adcH);
        }
    });

    /// <summary>Sets the raw readings that compensate to these values (within the chip's resolution).</summary>
    public void SetMeasurement(double temperatureC, double pressurePa, double humidityPercent)
    {
        var adcT = Solve(a => CompensateTemperature(a).T, temperatureC, increasing: true);
        var tFine = CompensateTemperature(adcT).TFine;
        var adcP = Solve(a => CompensatePressure(a, tFine), pressurePa, increasing: false);
        var adcH = HasHumidity ? Solve(a => CompensateHumidity(a, tFine), humidityPercent, increasing: true, max: 0xFFFF) : 0x8000;
        SetRaw(adcT, adcP, adcH);
    }

    protected override void OnWrite(byte register, byte value)
    {
        if (register == ResetRegister)
        {
            if (value == 0xB6)
            {
                Registers[0xF2] = 0;
                Registers[0xF4] = 0;
                Registers[0xF5] = 0;
            }

            return;
        }

        if (register is >= 0xF2 and <= 0xF5 and not 0xF3)
        {
            base.OnWrite(register, value);
        }

        // Everything else (trimming, id, data) is read-only.
    }

    private void Write20(byte msb, int value)
    {
        Registers[msb] = (byte)(value >> 12);
        Registers[msb + 1] = (byte)(value >> 4);
        Registers[msb + 2] = (byte)((value & 0xF) << 4);
    }

    private void WriteCalibration()
    {
        var r = Registers.AsSpan();
        BinaryPrimitives.WriteUInt16LittleEndian(r[0x88..], _cal.T1);
        BinaryPrimitives.WriteInt16LittleEndian(r[0x8A..], _cal.T2);
        BinaryPrimitives.WriteInt16LittleEndian(r[0x8C..], _cal.T3);
        BinaryPrimitives.WriteUInt16LittleEndian(r[0x8E..], _cal.P1);
        short[] p = [_cal.P2, _cal.P3, _cal.P4, _cal.P5, _cal.P6, _cal.P7, _cal.P8, _cal.P9];
        for (var i = 0; i < p.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(r[(0x90 + (2 * i))..], p[i]);
        }

        if (!HasHumidity)
        {
            return;
        }

        // dig_H4 and dig_H5 are 12-bit values sharing 0xE5: H4 = E4[7:0]:E5[3:0], H5 = E6[7:0]:E5[7:4].
        r[0xA1] = _cal.H1;
        BinaryPrimitives.WriteInt16LittleEndian(r[0xE1..], _cal.H2);
        r[0xE3] = _cal.H3;
        r[0xE4] = (byte)(_cal.H4 >> 4);
        r[0xE5] = (byte)((_cal.H4 & 0xF) | ((_cal.H5 & 0xF) << 4));
        r[0xE6] = (byte)(_cal.H5 >> 4);
        r[0xE7] = (byte)_cal.H6;
    }

    // The datasheet's floating-point compensation (BMP280 §8.1, BME280 §8.1), used here only to invert it.
    private (double T, int TFine) CompensateTemperature(int adcT)
    {
        var v1 = ((adcT / 16384.0) - (_cal.T1 / 1024.0)) * _cal.T2;
        var d = (adcT / 131072.0) - (_cal.T1 / 8192.0);
        var v2 = d * d * _cal.T3;
        return ((v1 + v2) / 5120.0, (int)(v1 + v2));
    }

    private double CompensatePressure(int adcP, int tFine)
    {
        var v1 = (tFine / 2.0) - 64000.0;
        var v2 = v1 * v1 * _cal.P6 / 32768.0;
        v2 += v1 * _cal.P5 * 2.0;
        v2 = (v2 / 4.0) + (_cal.P4 * 65536.0);
        v1 = ((_cal.P3 * v1 * v1 / 524288.0) + (_cal.P2 * v1)) / 524288.0;
        v1 = (1.0 + (v1 / 32768.0)) * _cal.P1;
        if (v1 == 0)
        {
            return 0;
        }

        var p = 1048576.0 - adcP;
        p = (p - (v2 / 4096.0)) * 6250.0 / v1;
        v1 = _cal.P9 * p * p / 2147483648.0;
        v2 = p * _cal.P8 / 32768.0;
        return p + ((v1 + v2 + _cal.P7) / 16.0);
    }

    private double CompensateHumidity(int adcH, int tFine)
    {
        var h = tFine - 76800.0;
        h = (adcH - ((_cal.H4 * 64.0) + (_cal.H5 / 16384.0 * h)))
            * (_cal.H2 / 65536.0 * (1.0 + (_cal.H6 / 67108864.0 * h * (1.0 + (_cal.H3 / 67108864.0 * h)))));
        h *= 1.0 - (_cal.H1 * h / 524288.0);
        return Math.Clamp(h, 0, 100);
    }

    /// <summary>The raw value whose compensation is nearest <paramref name="target"/> (the formulas are monotonic).</summary>
    private static int Solve(Func<int, double> f, double target, bool increasing, int max = 0xFFFFF)
    {
        int lo = 0, hi = max;
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var below = increasing ? f(mid) < target : f(mid) > target;
            if (below)
            {
                lo = mid + 1;
            }
            else
            {
                hi = mid;
            }
        }

        return lo;
    }
}
