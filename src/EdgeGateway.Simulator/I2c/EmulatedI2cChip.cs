using System.Device.I2c;

namespace EdgeGateway.Simulator.I2c;

/// <summary>
/// A chip on an emulated I2C bus, seen through <see cref="I2cDevice"/> (the seam the dotnet/iot bindings talk to).
/// An I2C register chip keeps a register pointer: a write's first byte sets it, the following bytes are written from
/// there, and reads continue from it. Faults are injected here: a NACK (the chip does not acknowledge; Linux reports
/// <c>EREMOTEIO</c>) for the next transfers, or the whole bus gone (hot-unplug of a USB adapter: <c>ENODEV</c>).
/// </summary>
public abstract class EmulatedI2cChip : I2cDevice
{
    private readonly Lock _gate = new();
    private I2cConnectionSettings _settings;
    private int _nackTransfers;

    protected EmulatedI2cChip(int address)
    {
        _settings = new I2cConnectionSettings(0, address);
    }

    public override I2cConnectionSettings ConnectionSettings => _settings;

    /// <summary>The bus this chip is plugged into; null while it is not attached (then every transfer fails as unplugged).</summary>
    internal SimulatedI2cBus? Bus { get; private set; }

    /// <summary>Transfers so far (reads and writes), to see that a reader is polling.</summary>
    public long Transfers { get; private set; }

    /// <summary>The next <paramref name="transfers"/> transfers are not acknowledged.</summary>
    public void FailNextTransfers(int transfers)
    {
        lock (_gate)
        {
            _nackTransfers = transfers;
        }
    }

    internal void Attach(SimulatedI2cBus bus)
    {
        Bus = bus;
        _settings = new I2cConnectionSettings(bus.Number, _settings.DeviceAddress);
    }

    public override byte ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        Read(one);
        return one[0];
    }

    public override void Read(Span<byte> buffer)
    {
        lock (_gate)
        {
            Check();
            ReadRegisters(buffer);
        }
    }

    public override void WriteByte(byte value) => Write([value]);

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (_gate)
        {
            Check();
            WriteRegisters(buffer);
        }
    }

    public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer)
    {
        lock (_gate)
        {
            Check();
            WriteRegisters(writeBuffer);
            ReadRegisters(readBuffer);
        }
    }

    /// <summary>Runs <paramref name="update"/> under the chip's lock, so a reader never sees half of a new sample.</summary>
    protected void Update(Action update)
    {
        ArgumentNullException.ThrowIfNull(update);
        lock (_gate)
        {
            update();
        }
    }

    /// <summary>A write transaction: the first byte selects the register, the rest is written from there.</summary>
    protected abstract void WriteRegisters(ReadOnlySpan<byte> data);

    /// <summary>A read transaction from the current register pointer.</summary>
    protected abstract void ReadRegisters(Span<byte> data);

    // Under _gate.
    private void Check()
    {
        Transfers++;
        if (Bus is not { Present: true })
        {
            // What Linux answers once the adapter behind /dev/i2c-N has gone.
            throw new IOException($"Error 19 performing I2C data transfer: no such device (bus {_settings.BusId} is gone)");
        }

        if (_nackTransfers > 0)
        {
            _nackTransfers--;
            throw new IOException($"Error 121 performing I2C data transfer: remote I/O error (no ACK from 0x{_settings.DeviceAddress:x2})");
        }
    }
}

/// <summary>A chip with 256 byte-wide registers and an auto-incrementing pointer (BME280, MPU6050).</summary>
public abstract class ByteRegisterChip(int address) : EmulatedI2cChip(address)
{
    private byte _pointer;

    /// <summary>The register file.</summary>
    protected byte[] Registers { get; } = new byte[256];

    protected override void WriteRegisters(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty)
        {
            return;
        }

        _pointer = data[0];
        foreach (var b in data[1..])
        {
            OnWrite(_pointer, b);
            _pointer++;
        }
    }

    protected override void ReadRegisters(Span<byte> data)
    {
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = Registers[_pointer++];
        }
    }

    /// <summary>A register written by the host; by default stored as is.</summary>
    protected virtual void OnWrite(byte register, byte value) => Registers[register] = value;
}
