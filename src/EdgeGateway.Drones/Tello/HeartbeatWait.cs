using EdgeGateway.Health;

namespace EdgeGateway.Drones.Tello;

/// <summary>
/// Lets a loop that waits (for a datagram, for a queued command) keep its watchdog heartbeat while it is
/// idle but healthy: the wait is cut into slices and the loop beats between them. A loop stuck anywhere
/// else (a blocked handler, a deadlock) stops beating.
/// </summary>
internal static class HeartbeatWait
{
    /// <summary>How often an idle loop beats; far below every registered MaxSilence.</summary>
    public static readonly TimeSpan Slice = TimeSpan.FromSeconds(1);

    /// <summary>Allowed silence of the drone loops' heartbeats (as drones.supervisor).</summary>
    public static readonly TimeSpan MaxSilence = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Awaits <paramref name="task"/>, beating every <see cref="Slice"/> meanwhile. The task must end on
    /// shutdown by itself (it carries the stopping token, or its socket/channel is closed).
    /// </summary>
    public static async Task<T> WaitAsync<T>(Task<T> task, LoopHeartbeat? beat, TimeProvider time)
    {
        if (beat is null)
        {
            return await task.ConfigureAwait(false);
        }

        while (true)
        {
            try
            {
                return await task.WaitAsync(Slice, time).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                beat.Beat();
            }
        }
    }
}
