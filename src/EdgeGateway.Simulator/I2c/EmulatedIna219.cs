using System.Buffers.Binary;

namespace EdgeGateway.Simulator.I2c;

/// <summary>
/// A TI INA219 current/power monitor: six 16-bit big-endian registers behind a pointer byte (0 configuration,
/// 1 shunt voltage, 2 bus voltage, 3 power, 4 current, 5 calibration). As the datasheet's power measurement engine:
/// shunt LSB 10 µV; bus voltage in bits 15–3 with LSB 4 mV and CNVR in bit 1; current = shunt × calibration / 4096;
/// power = current × bus / 5000. Current and power read 0 until a calibration is written. It has no id register.
/// </summary>
public sealed class EmulatedIna219(int address = 0x40) : EmulatedI2cChip(address)
{
    private const ushort ConfigurationPowerOn = 0x399F;

    private readonly ushort[] _registers = [ConfigurationPowerOn, 0, 0, 0, 0, 0];
    private int _pointer;

    public ushort Calibration => _registers[5];

    public ushort Configuration => _registers[0];

    /// <summary>Sets the bus voltage and the voltage across the shunt; current and power follow from the calibration.</summary>
    public void SetMeasurement(double busVolts, double shuntVolts) => Update(() =>
    {
        var bus = (ushort)Math.Clamp(Math.Round(busVolts / 0.004), 0, 8000);
        var shunt = (short)Math.Clamp(Math.Round(shuntVolts / 0.00001), -32000, 32000);
        _registers[1] = (ushort)shunt;
        _registers[2] = (ushort)((bus << 3) | 0b10);
        Recompute();
    });

    /// <summary>Raw register values, as the datasheet's examples give them.</summary>
    public void SetRaw(short shuntRegister, ushort busRegister) => Update(() =>
    {
        _registers[1] = (ushort)shuntRegister;
        _registers[2] = busRegister;
        Recompute();
    });

    protected override void WriteRegisters(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        _pointer = data[0];
        if (data.Length < 3 || _pointer > 5)
        {
            return;
        }

        var value = BinaryPrimitives.ReadUInt16BigEndian(data[1..3]);
        switch (_pointer)
        {
            case 0 when (value & 0x8000) != 0:
                _registers[0] = ConfigurationPowerOn;
                _registers[5] = 0;
                break;
            case 0:
                _registers[0] = value;
                break;
            case 5:
                _registers[5] = (ushort)(value & 0xFFFE); // bit 0 is read-only zero
                break;
        }

        Recompute();
    }

    protected override void ReadRegisters(Span<byte> data)
    {
        // Reads always start at the pointer's register; the INA219 does not auto-increment.
        Span<byte> word = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(word, _pointer <= 5 ? _registers[_pointer] : (ushort)0);
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = word[i % 2];
        }
    }

    private void Recompute()
    {
        var current = (short)Math.Clamp((short)_registers[1] * (long)_registers[5] / 4096, short.MinValue, short.MaxValue);
        _registers[4] = (ushort)current;
        _registers[3] = (ushort)Math.Clamp(Math.Abs(current) * (long)(_registers[2] >> 3) / 5000, 0, ushort.MaxValue);
    }
}
