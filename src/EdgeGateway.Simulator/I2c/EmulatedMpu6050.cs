using System.Buffers.Binary;

namespace EdgeGateway.Simulator.I2c;

/// <summary>
/// An InvenSense MPU-6050 (WHO_AM_I 0x75 = 0x68): accelerometer at 0x3B–0x40, die temperature at 0x41–0x42,
/// gyroscope at 0x43–0x48, all 16-bit big-endian two's complement. Sensitivity follows the register map: the
/// accelerometer's AFS_SEL (0x1C bits 4:3) gives 16384/8192/4096/2048 LSB per g, the gyroscope's FS_SEL (0x1B bits
/// 4:3) 131/65.5/32.8/16.4 LSB per °/s; temperature is raw / 340 + 36.53 °C. PWR_MGMT_1 (0x6B) bit 7 resets.
/// </summary>
public sealed class EmulatedMpu6050 : ByteRegisterChip
{
    public const byte WhoAmI = 0x68;

    private static readonly double[] AccelLsbPerG = [16384, 8192, 4096, 2048];
    private static readonly double[] GyroLsbPerDps = [131, 65.5, 32.8, 16.4];

    private (double X, double Y, double Z) _accelG = (0, 0, 1);
    private (double X, double Y, double Z) _gyroDps;
    private double _temperatureC = 25;

    public EmulatedMpu6050(int address = 0x68, byte whoAmI = WhoAmI)
        : base(address)
    {
        Registers[0x75] = whoAmI;
        PowerOnReset();
    }

    /// <summary>Sets what the chip measures; the registers hold it at the currently selected full scale.</summary>
    public void SetMotion((double X, double Y, double Z) accelG, (double X, double Y, double Z) gyroDps, double temperatureC = 25) => Update(() =>
    {
        _accelG = accelG;
        _gyroDps = gyroDps;
        _temperatureC = temperatureC;
        Refresh();
    });

    /// <summary>Raw register counts (as the datasheet's sensitivity tables use).</summary>
    public void SetRaw((short X, short Y, short Z) accel, (short X, short Y, short Z) gyro, short temperature) => Update(() =>
    {
        Write16(0x3B, accel.X);
        Write16(0x3D, accel.Y);
        Write16(0x3F, accel.Z);
        Write16(0x41, temperature);
        Write16(0x43, gyro.X);
        Write16(0x45, gyro.Y);
        Write16(0x47, gyro.Z);
    });

    protected override void OnWrite(byte register, byte value)
    {
        switch (register)
        {
            case 0x75:
            case >= 0x3B and <= 0x48:
                return; // read-only
            case 0x6B when (value & 0x80) != 0:
                PowerOnReset();
                return;
            default:
                base.OnWrite(register, value);
                if (register is 0x1B or 0x1C)
                {
                    Refresh();
                }

                return;
        }
    }

    private void PowerOnReset()
    {
        var who = Registers[0x75];
        Array.Clear(Registers);
        Registers[0x75] = who;
        Registers[0x6B] = 0x40; // SLEEP after reset
        Refresh();
    }

    private void Refresh()
    {
        var a = AccelLsbPerG[(Registers[0x1C] >> 3) & 3];
        var g = GyroLsbPerDps[(Registers[0x1B] >> 3) & 3];
        Write16(0x3B, Counts(_accelG.X * a));
        Write16(0x3D, Counts(_accelG.Y * a));
        Write16(0x3F, Counts(_accelG.Z * a));
        Write16(0x41, Counts((_temperatureC - 36.53) * 340));
        Write16(0x43, Counts(_gyroDps.X * g));
        Write16(0x45, Counts(_gyroDps.Y * g));
        Write16(0x47, Counts(_gyroDps.Z * g));
    }

    private static short Counts(double v) => (short)Math.Clamp(Math.Round(v), short.MinValue, short.MaxValue);

    private void Write16(byte register, short value) => BinaryPrimitives.WriteInt16BigEndian(Registers.AsSpan(register, 2), value);
}
