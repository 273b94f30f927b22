using System.Globalization;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>
/// What systemd told this process through its environment. Read once at start; tests build their own
/// instead of changing the process-wide environment.
/// </summary>
public sealed record SystemdEnvironment(string? NotifySocket, string? WatchdogUsec, string? WatchdogPid, bool IsSystemdService)
{
    /// <summary>Reads NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID and detects whether systemd started us.</summary>
    public static SystemdEnvironment FromProcess() => From(Environment.GetEnvironmentVariable);

    public static SystemdEnvironment From(Func<string, string?> variable) => new(
        Empty(variable("NOTIFY_SOCKET")),
        Empty(variable("WATCHDOG_USEC")),
        Empty(variable("WATCHDOG_PID")),
        SystemdDetection.IsSystemdService(variable));

    /// <summary>
    /// Half of WATCHDOG_USEC (systemd's advice), or null when the watchdog is off or meant for another
    /// process (WATCHDOG_PID set to a pid that is not ours).
    /// </summary>
    public TimeSpan? WatchdogPingInterval => TryWatchdogUsec(out var usec) ? TimeSpan.FromMicroseconds(usec / 2.0) : null;

    internal bool TryWatchdogUsec(out long usec)
    {
        usec = 0;
        if (WatchdogUsec is null
            || !long.TryParse(WatchdogUsec, NumberStyles.None, CultureInfo.InvariantCulture, out usec)
            || usec <= 0)
        {
            return false;
        }

        if (WatchdogPid is not null
            && (!int.TryParse(WatchdogPid, NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid != Environment.ProcessId))
        {
            return false;
        }

        return true;
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>
/// Detects a systemd service the way Microsoft.Extensions.Hosting.Systemd does (parent process is
/// systemd, or we are PID 1 in a container given a notify socket), plus the variables systemd sets for
/// every unit it starts (INVOCATION_ID, JOURNAL_STREAM), which also hold under `systemd-run`.
/// </summary>
public static class SystemdDetection
{
    public static bool IsSystemdService(Func<string, string?> variable)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        if (Environment.ProcessId == 1)
        {
            return !string.IsNullOrEmpty(variable("NOTIFY_SOCKET")) || !string.IsNullOrEmpty(variable("LISTEN_PID"));
        }

        if (!string.IsNullOrEmpty(variable("INVOCATION_ID")) || !string.IsNullOrEmpty(variable("JOURNAL_STREAM")))
        {
            return true;
        }

        return ParentIsSystemd();
    }

    private static bool ParentIsSystemd()
    {
        try
        {
            // /proc/self/stat: "pid (comm) state ppid ..."; comm may contain spaces and ')' so split after the last ')'.
            var stat = File.ReadAllText("/proc/self/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var comm = File.ReadAllText($"/proc/{fields[1]}/comm");
            return comm == "systemd\n";
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
