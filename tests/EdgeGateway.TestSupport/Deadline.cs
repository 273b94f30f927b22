using System.Diagnostics;

namespace EdgeGateway.TestSupport;

/// <summary>
/// A deadline on the monotonic clock (<see cref="Stopwatch"/>): a step of the wall clock (NTP, a container's clock
/// being set) can neither cut a test's wait short nor stretch it, as a deadline from <c>DateTime.UtcNow</c> can.
/// </summary>
public readonly struct Deadline
{
    private readonly long _started;
    private readonly TimeSpan _limit;

    private Deadline(TimeSpan limit)
    {
        _started = Stopwatch.GetTimestamp();
        _limit = limit;
    }

    /// <summary>A deadline <paramref name="limit"/> from now.</summary>
    public static Deadline In(TimeSpan limit) => new(limit);

    /// <summary>Time left; zero or less once passed.</summary>
    public TimeSpan Left => _limit - Stopwatch.GetElapsedTime(_started);

    public bool Passed => Left <= TimeSpan.Zero;
}
