using System.Device.I2c;

namespace EdgeGateway.Sensors.I2c;

/// <summary>
/// Opens the device at a bus and address. The gateway owns and disposes what it returns. Real hardware uses
/// <see cref="LinuxI2cBus.Open"/>; simulate mode and tests pass emulated chips through the same seam.
/// </summary>
public delegate I2cDevice I2cDeviceOpener(I2cConnectionSettings settings);

/// <summary><c>/dev/i2c-N</c> through the dotnet/iot Linux bus driver.</summary>
public static class LinuxI2cBus
{
    public static string DevicePath(int bus) => $"/dev/i2c-{bus}";

    /// <summary>
    /// Checks that the bus device exists first: the binding only opens it on the first transfer, and its error then
    /// does not say the bus itself is missing (I2C not enabled, a USB adapter unplugged).
    /// </summary>
    public static I2cDevice Open(I2cConnectionSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var path = DevicePath(settings.BusId);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} does not exist", path);
        }

        return I2cDevice.Create(settings);
    }
}
