using System.Runtime.InteropServices;

namespace EdgeGateway;

/// <summary>Whether the kernel says the system clock is synchronised (NTP or similar), so records can say so.</summary>
internal static partial class KernelClock
{
    // adjtimex(2) returns the clock state; TIME_ERROR means "not synchronised".
    private const int TimeError = 5;

    public static bool IsSynchronised()
    {
        // systemd-timesyncd marks a synchronised clock with this file.
        if (File.Exists("/run/systemd/timesync/synchronized"))
        {
            return true;
        }

        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        try
        {
            // struct timex is about 208 bytes on 64-bit Linux; modes = 0 (offset 0) only reads.
            var timex = new byte[512];
            var state = AdjTimex(timex);
            return state >= 0 && state != TimeError;
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    [LibraryImport("libc", EntryPoint = "adjtimex", SetLastError = true)]
    private static partial int AdjTimex(byte[] buffer);
}
