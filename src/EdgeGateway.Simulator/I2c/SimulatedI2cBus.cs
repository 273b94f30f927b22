using System.Device.I2c;

namespace EdgeGateway.Simulator.I2c;

/// <summary>
/// An I2C bus (<c>/dev/i2c-N</c>) with emulated chips at their addresses. <see cref="Open"/> stands in for
/// <see cref="I2cDevice.Create"/>: it answers for a present bus only, and a device with nothing at its address NACKs
/// every transfer, as on real hardware. <see cref="Unplug"/> removes the bus (a USB I2C adapter pulled out).
/// </summary>
public sealed class SimulatedI2cBus(int number)
{
    private readonly Dictionary<int, EmulatedI2cChip> _chips = [];
    private volatile bool _present = true;

    public int Number { get; } = number;

    public bool Present => _present;

    public string DevicePath => $"/dev/i2c-{Number}";

    public T Add<T>(T chip)
        where T : EmulatedI2cChip
    {
        ArgumentNullException.ThrowIfNull(chip);
        lock (_chips)
        {
            _chips.Add(chip.ConnectionSettings.DeviceAddress, chip);
        }

        chip.Attach(this);
        return chip;
    }

    public void Unplug() => _present = false;

    public void Replug() => _present = true;

    /// <summary>The device at <paramref name="settings"/>; throws as opening a missing <c>/dev/i2c-N</c> does.</summary>
    public I2cDevice Open(I2cConnectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        if (settings.BusId != Number || !_present)
        {
            throw new FileNotFoundException($"{(settings.BusId == Number ? DevicePath : $"/dev/i2c-{settings.BusId}")} does not exist");
        }

        EmulatedI2cChip? chip;
        lock (_chips)
        {
            _chips.TryGetValue(settings.DeviceAddress, out chip);
        }

        // The gateway owns (and disposes) what it opens; the chip lives on the bus, so hand out a handle.
        return new Handle(this, settings, chip);
    }

    /// <summary>What <see cref="Open"/> returns: forwards to the chip; nothing at the address means no ACK.</summary>
    private sealed class Handle(SimulatedI2cBus bus, I2cConnectionSettings settings, EmulatedI2cChip? chip) : I2cDevice
    {
        private bool _disposed;

        public override I2cConnectionSettings ConnectionSettings => settings;

        public override byte ReadByte() => Chip().ReadByte();

        public override void Read(Span<byte> buffer) => Chip().Read(buffer);

        public override void WriteByte(byte value) => Chip().WriteByte(value);

        public override void Write(ReadOnlySpan<byte> buffer) => Chip().Write(buffer);

        public override void WriteRead(ReadOnlySpan<byte> writeBuffer, Span<byte> readBuffer) => Chip().WriteRead(writeBuffer, readBuffer);

        protected override void Dispose(bool disposing)
        {
            _disposed = true;
            base.Dispose(disposing);
        }

        private EmulatedI2cChip Chip()
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!bus.Present)
            {
                throw new IOException($"Error 19 performing I2C data transfer: no such device ({bus.DevicePath} is gone)");
            }

            return chip ?? throw new IOException($"Error 121 performing I2C data transfer: remote I/O error (nothing answers at 0x{settings.DeviceAddress:x2})");
        }
    }
}
