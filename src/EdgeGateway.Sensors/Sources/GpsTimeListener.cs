using EdgeGateway.Records;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Sources;

/// <summary>Told about every valid GPS time; the hook through which GPS becomes the gateway's time source.</summary>
public interface IGpsTimeListener
{
    /// <param name="gpsUtc">The receiver's UTC time for the epoch.</param>
    /// <param name="systemUtc">The gateway clock when the epoch was read.</param>
    void OnGpsTime(DateTimeOffset gpsUtc, DateTimeOffset systemUtc);
}

/// <summary>
/// Marks the shared <see cref="SystemWallClock"/> as GPS-backed (<see cref="TimeSource.Gps"/>) while GPS time
/// agrees with it within the allowed offset. The gateway does not set the system clock itself (gpsd + chrony
/// do that well); when the two disagree the source is put back and the offset is logged, so records never
/// claim GPS time they do not have.
/// </summary>
public sealed partial class WallClockGpsTimeListener(SystemWallClock clock, TimeSpan maxOffset, TimeProvider time,
    ILogger<WallClockGpsTimeListener> logger) : IGpsTimeListener
{
    private readonly TimeSource _original = clock.Source;
    private long _lastWarning = long.MinValue;

    public void OnGpsTime(DateTimeOffset gpsUtc, DateTimeOffset systemUtc)
    {
        var offset = systemUtc - gpsUtc;
        if (offset.Duration() <= maxOffset)
        {
            if (clock.Source != TimeSource.Gps)
            {
                clock.Source = TimeSource.Gps;
                SensorsLog.GpsTimeAdopted(logger, offset.TotalMilliseconds);
            }

            return;
        }

        if (clock.Source == TimeSource.Gps)
        {
            clock.Source = _original;
        }

        var now = time.GetTimestamp();
        if (_lastWarning == long.MinValue || time.GetElapsedTime(_lastWarning) >= TimeSpan.FromMinutes(10))
        {
            _lastWarning = now;
            SensorsLog.GpsTimeDisagrees(logger, offset.TotalSeconds, maxOffset.TotalSeconds);
        }
    }
}
