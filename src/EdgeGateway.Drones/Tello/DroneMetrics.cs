using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EdgeGateway.Drones.Tello;

/// <summary>Counters a test or the health report can read directly (the meter carries the same numbers).</summary>
public sealed class DroneLinkCounters
{
    private long _stateDatagrams;
    private long _badStateDatagrams;
    private long _binaryDatagrams;
    private long _unknownSourceDatagrams;
    private long _wrongPortReplies;
    private long _staleReplies;
    private long _resyncs;
    private long _recordsDropped;
    private long _notJoystickRetries;

    public long StateDatagrams => Interlocked.Read(ref _stateDatagrams);

    /// <summary>State datagrams that were truncated, oversize, empty or carried no known key.</summary>
    public long BadStateDatagrams => Interlocked.Read(ref _badStateDatagrams);

    /// <summary>Non-text datagrams on either channel.</summary>
    public long BinaryDatagrams => Interlocked.Read(ref _binaryDatagrams);

    public long UnknownSourceDatagrams => Interlocked.Read(ref _unknownSourceDatagrams);

    /// <summary>Command-channel datagrams from a drone's IP but not from its command port: ignored, never a reply.</summary>
    public long WrongPortReplies => Interlocked.Read(ref _wrongPortReplies);

    /// <summary>Replies that arrived with no command waiting, or were discarded while desynced.</summary>
    public long StaleReplies => Interlocked.Read(ref _staleReplies);

    public long Resyncs => Interlocked.Read(ref _resyncs);

    public long RecordsDropped => Interlocked.Read(ref _recordsDropped);

    /// <summary>Moves refused with <c>error Not joystick</c> and sent once more after a hover.</summary>
    public long NotJoystickRetries => Interlocked.Read(ref _notJoystickRetries);

    internal long IncState() => Interlocked.Increment(ref _stateDatagrams);
    internal long IncBadState() => Interlocked.Increment(ref _badStateDatagrams);
    internal long IncBinary() => Interlocked.Increment(ref _binaryDatagrams);
    internal long IncUnknownSource() => Interlocked.Increment(ref _unknownSourceDatagrams);
    internal long IncWrongPortReply() => Interlocked.Increment(ref _wrongPortReplies);
    internal long IncStale() => Interlocked.Increment(ref _staleReplies);
    internal long IncResync() => Interlocked.Increment(ref _resyncs);
    internal long IncRecordDropped() => Interlocked.Increment(ref _recordsDropped);
    internal long IncNotJoystickRetry() => Interlocked.Increment(ref _notJoystickRetries);
}

/// <summary>Instruments of the <c>EdgeGateway.Drones</c> meter.</summary>
internal sealed class DroneMetrics : IDisposable
{
    public const string MeterName = "EdgeGateway.Drones";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _stateDatagrams;
    private readonly Counter<long> _badDatagrams;
    private readonly Counter<long> _commands;
    private readonly Histogram<double> _latency;
    private readonly Counter<long> _resyncs;
    private readonly Counter<long> _staleReplies;
    private readonly Counter<long> _notJoystickRetries;

    public DroneMetrics(IMeterFactory? factory, Func<IEnumerable<Measurement<int>>> health)
    {
        if (factory is null)
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }
        else
        {
            _meter = factory.Create(MeterName);
        }

        _stateDatagrams = _meter.CreateCounter<long>("edge_drone_state_datagrams", "{datagram}", "State datagrams parsed, by drone");
        _badDatagrams = _meter.CreateCounter<long>("edge_drone_bad_datagrams", "{datagram}",
            "Datagrams ignored: binary, truncated, oversize, unparsable or from an unknown source");
        _commands = _meter.CreateCounter<long>("edge_drone_commands", "{command}", "Commands by drone, kind and outcome");
        _latency = _meter.CreateHistogram<double>("edge_drone_command_latency_seconds", "s", "From send to reply or giving up");
        _resyncs = _meter.CreateCounter<long>("edge_drone_resyncs", "{resync}", "Resynchronisations after a timeout or mismatched reply");
        _staleReplies = _meter.CreateCounter<long>("edge_drone_stale_replies", "{datagram}", "Replies dropped as stale or unsolicited");
        _notJoystickRetries = _meter.CreateCounter<long>("edge_drone_not_joystick_retries", "{command}",
            "Moves refused with 'error Not joystick' and retried once from a hover");
        _meter.CreateObservableGauge("edge_drone_link_health_state", health, "{state}",
            "0 connecting, 1 fresh, 2 degraded, 3 lost");
    }

    public void State(string drone) => _stateDatagrams.Add(1, new KeyValuePair<string, object?>("drone", drone));

    public void Bad(string channel, string reason) => _badDatagrams.Add(1,
        new KeyValuePair<string, object?>("channel", channel), new KeyValuePair<string, object?>("reason", reason));

    public void Command(string drone, TelloCommandKind kind, DroneCommandOutcome outcome, TimeSpan latency)
    {
        var tags = new TagList
        {
            { "drone", drone },
            { "kind", kind.ToString() },
            { "outcome", outcome.ToString() },
        };
        _commands.Add(1, tags);
        if (outcome is not (DroneCommandOutcome.LinkDown or DroneCommandOutcome.Busy))
        {
            _latency.Record(latency.TotalSeconds, tags);
        }
    }

    public void Resync(string drone) => _resyncs.Add(1, new KeyValuePair<string, object?>("drone", drone));

    public void NotJoystickRetry(string drone) => _notJoystickRetries.Add(1, new KeyValuePair<string, object?>("drone", drone));

    public void Stale(string drone) => _staleReplies.Add(1, new KeyValuePair<string, object?>("drone", drone));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }
}
