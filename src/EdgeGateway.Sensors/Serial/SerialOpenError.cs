using System.Globalization;

namespace EdgeGateway.Sensors.Serial;

/// <summary>Why a serial device could not be opened; each has its own advice for the user.</summary>
public enum SerialOpenError
{
    None = 0,
    /// <summary>No such device (unplugged, wrong name, or a symlink whose target is gone).</summary>
    NotFound,
    /// <summary>The gateway's user may not open the device (not in its group).</summary>
    PermissionDenied,
    /// <summary>Another program holds the device (exclusive open or lock): gpsd, ModemManager, a terminal.</summary>
    Busy,
    /// <summary>The path is not a terminal (a plain file, a directory …).</summary>
    NotATerminal,
    /// <summary>The driver refused the baud rate or framing.</summary>
    UnsupportedSettings,
    /// <summary>Any other error from open/ioctl/tcsetattr.</summary>
    Other,
}

/// <summary>Owner, group and mode of a device node, for the permission message.</summary>
public sealed record DeviceAccess(string Owner, string Group, int Mode)
{
    /// <summary>e.g. <c>crw-rw----</c> style without the type letter: <c>rw-rw----</c>.</summary>
    public string ModeText
    {
        get
        {
            Span<char> s = stackalloc char[9];
            const string letters = "rwxrwxrwx";
            for (var i = 0; i < 9; i++)
            {
                s[i] = (Mode & (1 << (8 - i))) != 0 ? letters[i] : '-';
            }

            return new string(s);
        }
    }
}

/// <summary>A failed open with the message a user sees (log, <c>/api/sensors</c>, <c>/healthz</c>).</summary>
public sealed record SerialOpenFailure(SerialOpenError Error, int Errno, string Message);

/// <summary>Turns an errno from opening a tty into an actionable sentence. Pure, so every branch is tested.</summary>
public static class SerialErrorMessages
{
    public static SerialOpenError Classify(int errno) => errno switch
    {
        LibC.ENOENT or LibC.ENXIO or LibC.ENODEV or LibC.ENOTDIR => SerialOpenError.NotFound,
        LibC.EACCES or LibC.EPERM => SerialOpenError.PermissionDenied,
        LibC.EBUSY or LibC.EAGAIN => SerialOpenError.Busy,
        LibC.ENOTTY or LibC.EISDIR => SerialOpenError.NotATerminal,
        LibC.EINVAL => SerialOpenError.UnsupportedSettings,
        _ => SerialOpenError.Other,
    };

    /// <param name="path">The configured path.</param>
    /// <param name="resolved">Where a symlink pointed, when it did (by-id names).</param>
    /// <param name="access">Owner/group/mode of the device node, when it could be read.</param>
    /// <param name="user">The user the gateway runs as.</param>
    public static string Describe(SerialOpenError error, int errno, string path, string? resolved, DeviceAccess? access, string user,
        SerialSettings? settings = null)
    {
        var code = errno == 0 ? "" : $" ({LibC.ErrnoName(errno)})";
        var target = resolved is not null && resolved != path ? $" -> {resolved}" : "";
        switch (error)
        {
            case SerialOpenError.NotFound:
                return resolved is not null && resolved != path
                    ? $"Serial device {path} points to {resolved}, which does not exist{code}: the device is unplugged or was renamed. Check 'ls -l /dev/serial/by-id/' and 'dmesg | tail'."
                    : $"Serial device {path} not found{code}: is it plugged in and is the name right? List devices with 'ls -l /dev/serial/by-id/ /dev/ttyUSB* /dev/ttyACM* /dev/ttyAMA*'; a /dev/serial/by-id/ name survives re-plugging.";
            case SerialOpenError.PermissionDenied:
                if (access is null)
                {
                    return $"Permission denied opening {path}{target}{code} as user '{user}'. Check the device's group with 'ls -l {resolved ?? path}' and add '{user}' to it (usually 'dialout': sudo usermod -aG dialout {user}), then restart the gateway.";
                }

                var groupCanOpen = (access.Mode & 0x30) == 0x30; // group rw
                if (groupCanOpen && access.Group is not ("root" or "tty"))
                {
                    return $"Permission denied opening {path}{target}{code}: the device is owned by {access.Owner}:{access.Group} with mode {access.ModeText} and user '{user}' is not in group '{access.Group}'. Fix: sudo usermod -aG {access.Group} {user} (or SupplementaryGroups={access.Group} in the systemd unit), then restart the gateway.";
                }

                return $"Permission denied opening {path}{target}{code}: the device is owned by {access.Owner}:{access.Group} with mode {access.ModeText}, which only {access.Owner} can open. Add a udev rule giving it to the 'dialout' group, e.g. SUBSYSTEM==\"tty\", KERNEL==\"{Path.GetFileName(resolved ?? path)}\", GROUP=\"dialout\", MODE=\"0660\", then add '{user}' to 'dialout' (sudo usermod -aG dialout {user}).";
            case SerialOpenError.Busy:
                return $"Serial device {path}{target} is busy{code}: another program has it open exclusively or locked. Find it with 'sudo fuser -v {resolved ?? path}'. If it is gpsd, configure this sensor as Type=gpsd instead; if it is ModemManager, disable it or add ENV{{ID_MM_DEVICE_IGNORE}}=\"1\" in a udev rule; for /dev/ttyAMA0 or /dev/serial0 on a Raspberry Pi, disable the serial console (raspi-config).";
            case SerialOpenError.NotATerminal:
                return $"{path}{target} is not a serial device{code}: expected a tty such as /dev/ttyUSB0, /dev/ttyACM0, /dev/ttyAMA0 or a /dev/serial/by-id/ link.";
            case SerialOpenError.UnsupportedSettings:
                return $"Serial device {path}{target} refused the settings {settings?.ToString() ?? ""}{code}: use a standard baud rate ({string.Join(", ", SerialSettings.StandardBaudRates.Select(b => b.ToString(CultureInfo.InvariantCulture)))}) and a framing the adapter supports (8N1, 7E1 …).";
            default:
                return $"Cannot open serial device {path}{target}{code}: {LibC.StrError(errno)}.";
        }
    }
}
