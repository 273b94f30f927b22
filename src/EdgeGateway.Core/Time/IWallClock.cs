using EdgeGateway.Records;

namespace EdgeGateway.Time;

/// <summary>
/// The gateway's notion of "now" for record time stamps, with where it came from.
/// A GPS driver may raise the source to <see cref="TimeSource.Gps"/>.
/// </summary>
public interface IWallClock
{
    (DateTimeOffset Now, TimeSource Source) Now();
}

/// <summary>The system clock through an injected <see cref="TimeProvider"/>.</summary>
public sealed class SystemWallClock(TimeProvider time, TimeSource source = TimeSource.Unsynced) : IWallClock
{
    private volatile int _source = (int)source;

    public TimeSource Source
    {
        get => (TimeSource)_source;
        set => _source = (int)value;
    }

    public (DateTimeOffset Now, TimeSource Source) Now() => (time.GetUtcNow(), Source);
}
