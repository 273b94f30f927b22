namespace EdgeGateway.Mqtt;

/// <summary>How soon to try again after a failed attempt or a lost connection.</summary>
public enum RetryClass
{
    /// <summary>Network trouble: capped exponential backoff with jitter.</summary>
    Normal,
    /// <summary>Refused login, ban, server busy/unavailable, rate limit, certificate failure: wait long and say why.</summary>
    Refused,
    /// <summary>Another client took our session over: never fight it.</summary>
    Takeover,
    /// <summary>Retry at once (e.g. after dropping a stale session); the next failure backs off as usual.</summary>
    Immediate,
}

/// <summary>
/// Capped exponential backoff with ±jitter (I2). The attempt counter resets only after a connection stayed up for
/// <see cref="MqttBackoffOptions.StableAfter"/>, so a connection that is kicked right after CONNACK keeps backing off (P-42).
/// </summary>
public sealed class ReconnectBackoff(MqttBackoffOptions options, Random? random = null)
{
    private readonly Random _random = random ?? Random.Shared;
    private int _attempt;

    public int Attempt => _attempt;

    public void Reset() => _attempt = 0;

    public TimeSpan Next(RetryClass retryClass)
    {
        if (retryClass == RetryClass.Immediate)
        {
            return TimeSpan.Zero;
        }

        var exponent = Math.Min(_attempt, 30);
        _attempt++;
        var baseMs = Math.Min(options.MaxDelay.TotalMilliseconds, options.InitialDelay.TotalMilliseconds * Math.Pow(2, exponent));
        var jitter = 1 + (((_random.NextDouble() * 2) - 1) * options.Jitter);
        var delay = TimeSpan.FromMilliseconds(baseMs * jitter);
        var floor = retryClass switch
        {
            RetryClass.Refused => options.RefusedDelay,
            RetryClass.Takeover => options.TakeoverDelay,
            _ => TimeSpan.Zero,
        };
        return delay < floor ? floor + TimeSpan.FromMilliseconds(floor.TotalMilliseconds * options.Jitter * _random.NextDouble()) : delay;
    }

    public static RetryClass Classify(MqttConnectResult result) => result.Outcome switch
    {
        ConnectOutcome.Refused => ClassifyReason(result.ReasonCode),
        // A certificate that does not validate will not start validating on its own.
        ConnectOutcome.TlsHandshakeFailed => RetryClass.Refused,
        ConnectOutcome.SessionPresentWithoutState => RetryClass.Immediate,
        _ => RetryClass.Normal,
    };

    public static RetryClass Classify(MqttDisconnectInfo info) => info.Kind switch
    {
        DisconnectKind.ServerDisconnect => ClassifyReason(info.ReasonCode),
        _ => RetryClass.Normal,
    };

    /// <summary>5.0 reason codes (3.1.1 CONNACK codes mapped with <see cref="MqttReasonCodes.FromV311ConnAck"/>).</summary>
    public static RetryClass ClassifyReason(byte reasonCode) => reasonCode switch
    {
        MqttReasonCodes.SessionTakenOver => RetryClass.Takeover,
        // bad credentials, not authorized, banned, bad auth method, id rejected, unsupported version
        0x84 or 0x85 or 0x86 or 0x87 or 0x8A or 0x8C => RetryClass.Refused,
        // server unavailable, busy, quota, connection rate exceeded, administrative action
        0x88 or 0x89 or 0x97 or 0x9F or 0x98 => RetryClass.Refused,
        _ => RetryClass.Normal,
    };
}
