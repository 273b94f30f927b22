using System.Diagnostics;

namespace EdgeGateway.Hosting;

/// <summary>
/// Process start and READY=1 times, so a benchmark can measure "process start → ready" from the log line
/// (event 3000) or from the <c>edge_startup_ready_seconds</c> gauge on /metrics.
/// Uses the real clock on purpose: the process start is a real-world instant, not injected time.
/// </summary>
public static class ProcessStartTiming
{
    private static long _readyAfterTicks = -1;

    /// <summary>When the kernel started this process (from /proc via <see cref="Process.StartTime"/>).</summary>
    public static DateTimeOffset ProcessStartUtc { get; } = ReadStart();

    /// <summary>Real time elapsed since the process started.</summary>
    public static TimeSpan SinceProcessStart() => DateTimeOffset.UtcNow - ProcessStartUtc;

    /// <summary>Time from process start to the first READY=1; null until then.</summary>
    public static TimeSpan? ReadyAfter
    {
        get
        {
            var ticks = Interlocked.Read(ref _readyAfterTicks);
            return ticks < 0 ? null : TimeSpan.FromTicks(ticks);
        }
    }

    /// <summary>Records the ready instant (first call wins) and returns the elapsed time since process start.</summary>
    public static TimeSpan MarkReady()
    {
        var elapsed = SinceProcessStart();
        Interlocked.CompareExchange(ref _readyAfterTicks, elapsed.Ticks, -1);
        return ReadyAfter ?? elapsed;
    }

    private static DateTimeOffset ReadStart()
    {
        try
        {
            using var self = Process.GetCurrentProcess();
            return new DateTimeOffset(self.StartTime.ToUniversalTime(), TimeSpan.Zero);
        }
        catch (Exception error) when (error is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // No /proc (some sandboxes): the type initialiser runs early at start, which is close enough.
            return DateTimeOffset.UtcNow;
        }
    }
}
