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
/// claim GPS time they do not have. The claim also expires: when no valid, agreeing GPS time has arrived for
/// <c>holdFor</c> (the receiver was unplugged, lost its fix, or gpsd stopped), the clock goes back to the source
/// it had before GPS was adopted; the next agreeing GPS time adopts GPS again.
/// </summary>
public sealed partial class WallClockGpsTimeListener : IGpsTimeListener, IDisposable
{
    private readonly SystemWallClock _clock;
    private readonly TimeSpan _maxOffset;
    private readonly TimeSpan _holdFor;
    private readonly TimeProvider _time;
    private readonly ILogger<WallClockGpsTimeListener> _logger;
    private readonly Lock _gate = new();
    private readonly ITimer _expiry;
    private TimeSource _before;
    private bool _claimed;
    private bool _disposed;
    private long _lastAgreeing;
    private long _lastWarning = long.MinValue;

    /// <param name="clock">The shared wall clock whose source is raised to GPS.</param>
    /// <param name="maxOffset">How far the system clock may be from GPS time and still be called GPS-backed.</param>
    /// <param name="holdFor">How long the GPS claim holds without a new valid, agreeing GPS time (the host passes <c>Sensors:StaleAfter</c>).</param>
    /// <param name="time">The clock the hold is measured on.</param>
    /// <param name="logger">Where adoption, expiry and disagreement are logged.</param>
    public WallClockGpsTimeListener(SystemWallClock clock, TimeSpan maxOffset, TimeSpan holdFor, TimeProvider time,
        ILogger<WallClockGpsTimeListener> logger)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(holdFor, TimeSpan.Zero);
        _clock = clock;
        _maxOffset = maxOffset;
        _holdFor = holdFor;
        _time = time;
        _logger = logger;
        _before = clock.Source;
        _expiry = time.CreateTimer(static s => ((WallClockGpsTimeListener)s!).Expire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public void OnGpsTime(DateTimeOffset gpsUtc, DateTimeOffset systemUtc)
    {
        var offset = systemUtc - gpsUtc;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            if (offset.Duration() <= _maxOffset)
            {
                _lastAgreeing = _time.GetTimestamp();
                if (!_claimed)
                {
                    _claimed = true;
                    _before = _clock.Source == TimeSource.Gps ? _before : _clock.Source;
                    _clock.Source = TimeSource.Gps;
                    SensorsLog.GpsTimeAdopted(_logger, offset.TotalMilliseconds);

                    // Armed once per claim; Expire re-arms for the remainder, so a 10 Hz GPS does not touch the timer 10 times a second.
                    _expiry.Change(_holdFor, Timeout.InfiniteTimeSpan);
                }

                return;
            }

            Release();
            var now = _time.GetTimestamp();
            if (_lastWarning == long.MinValue || _time.GetElapsedTime(_lastWarning, now) >= TimeSpan.FromMinutes(10))
            {
                _lastWarning = now;
                SensorsLog.GpsTimeDisagrees(_logger, offset.TotalSeconds, _maxOffset.TotalSeconds);
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
        }

        _expiry.Dispose();
    }

    private void Expire()
    {
        lock (_gate)
        {
            if (!_claimed || _disposed)
            {
                return;
            }

            var silent = _time.GetElapsedTime(_lastAgreeing);
            if (silent < _holdFor)
            {
                _expiry.Change(_holdFor - silent, Timeout.InfiniteTimeSpan);
                return;
            }

            Release();
            SensorsLog.GpsTimeExpired(_logger, silent.TotalSeconds, _before.ToString().ToLowerInvariant());
        }
    }

    // Under _gate.
    private void Release()
    {
        if (!_claimed)
        {
            return;
        }

        _claimed = false;
        _expiry.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        if (_clock.Source == TimeSource.Gps)
        {
            _clock.Source = _before;
        }
    }
}
