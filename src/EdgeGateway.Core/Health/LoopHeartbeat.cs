namespace EdgeGateway.Health;

/// <summary>
/// The main loops (drone receive loop, buffer writer, forwarder …) each register a heartbeat and
/// call <see cref="Beat"/> every time round. The systemd watchdog pings only while every
/// registered loop has beaten within its allowed silence, so a hung loop gets the service restarted.
/// </summary>
public sealed class LoopHeartbeat
{
    private readonly TimeProvider _time;
    private long _lastBeat;

    internal LoopHeartbeat(string name, TimeSpan maxSilence, TimeProvider time)
    {
        Name = name;
        MaxSilence = maxSilence;
        _time = time;
        _lastBeat = time.GetTimestamp();
    }

    public string Name { get; }

    public TimeSpan MaxSilence { get; }

    public void Beat() => Volatile.Write(ref _lastBeat, _time.GetTimestamp());

    public TimeSpan SinceLastBeat => _time.GetElapsedTime(Volatile.Read(ref _lastBeat));

    public bool IsAlive => SinceLastBeat <= MaxSilence;
}

/// <summary>The set of loop heartbeats; a singleton in DI.</summary>
public sealed class LoopHeartbeatRegistry(TimeProvider time)
{
    private readonly Lock _gate = new();
    private readonly List<LoopHeartbeat> _beats = [];

    /// <summary>Registers a loop that promises to beat at least every <paramref name="maxSilence"/>.</summary>
    public LoopHeartbeat Register(string name, TimeSpan maxSilence)
    {
        var beat = new LoopHeartbeat(name, maxSilence, time);
        lock (_gate)
        {
            _beats.Add(beat);
        }

        return beat;
    }

    public void Unregister(LoopHeartbeat beat)
    {
        lock (_gate)
        {
            _beats.Remove(beat);
        }
    }

    public IReadOnlyList<LoopHeartbeat> Snapshot()
    {
        lock (_gate)
        {
            return [.. _beats];
        }
    }

    /// <summary>Names of loops that are overdue; empty when all are alive.</summary>
    public IReadOnlyList<string> Overdue() => [.. Snapshot().Where(b => !b.IsAlive).Select(b => b.Name)];
}
