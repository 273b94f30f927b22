using System.Buffers;
using System.Text.Json;
using EdgeGateway.Health;

namespace EdgeGateway.Sensors.Sources;

/// <summary>Where a sensor's link stands.</summary>
public enum SensorLinkState
{
    /// <summary>Not opened yet.</summary>
    Connecting = 0,
    Open = 1,
    /// <summary>Was open; the device went away (unplugged, EIO, connection closed). Reopening with backoff.</summary>
    Disconnected = 2,
    /// <summary>Cannot be opened (missing, permission, busy …). Retrying with backoff.</summary>
    Failed = 3,
}

/// <summary>One sensor as the local API shows it: latest reading, health and counters.</summary>
public sealed record SensorSnapshot(
    string Id,
    string Type,
    string Endpoint,
    SensorLinkState Link,
    HealthState State,
    string Summary,
    DateTimeOffset? LastReadingAt,
    ReadOnlyMemory<byte> LastReadingJson,
    long Readings,
    long Rejected,
    long Ignored,
    IReadOnlyDictionary<string, long> RejectedByReason,
    long Reconnects,
    long RecordsDropped)
{
    /// <summary>
    /// Writes the snapshot as the JSON object used by <c>GET /api/sensors</c> and as the <c>data</c> of the
    /// <c>sensor_update</c> message on the WebSocket <c>sensors</c> channel.
    /// </summary>
    public void WriteTo(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStartObject();
        writer.WriteString("id", Id);
        writer.WriteString("type", Type);
        writer.WriteString("endpoint", Endpoint);
        writer.WriteString("link", Link.ToString().ToLowerInvariant());
        writer.WriteString("health", State.ToString().ToLowerInvariant());
        writer.WriteString("summary", Summary);
        if (LastReadingAt is { } at)
        {
            writer.WriteString("last_reading_at", at);
        }
        else
        {
            writer.WriteNull("last_reading_at");
        }

        writer.WritePropertyName("last_reading");
        if (LastReadingJson.IsEmpty)
        {
            writer.WriteNullValue();
        }
        else
        {
            writer.WriteRawValue(LastReadingJson.Span, skipInputValidation: true);
        }

        writer.WriteStartObject("counters");
        writer.WriteNumber("readings", Readings);
        writer.WriteNumber("rejected", Rejected);
        writer.WriteNumber("ignored", Ignored);
        writer.WriteNumber("reconnects", Reconnects);
        writer.WriteNumber("records_dropped", RecordsDropped);
        writer.WriteStartObject("rejected_by_reason");
        foreach (var (reason, count) in RejectedByReason.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            writer.WriteNumber(reason, count);
        }

        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteTo(writer);
        }

        return buffer.WrittenSpan.ToArray();
    }
}

/// <summary>Latest reading and health of every configured sensor, for the local API.</summary>
public interface ISensorRegistry
{
    IReadOnlyList<SensorSnapshot> Snapshot();

    SensorSnapshot? Find(string id);

    /// <summary>
    /// Raised after every reading and every link change, on the sensor's read path: handlers must be cheap
    /// and never block (hand the snapshot to a bounded queue that keeps the latest per sensor).
    /// </summary>
    event EventHandler<SensorSnapshot>? StateChanged;
}

/// <summary>The registry; sources update their entry, readers take immutable snapshots.</summary>
public sealed class SensorRegistry(TimeProvider time, TimeSpan staleAfter) : ISensorRegistry
{
    private readonly List<SensorEntry> _entries = [];
    private readonly Lock _gate = new();

    public event EventHandler<SensorSnapshot>? StateChanged;

    internal SensorEntry Add(string id, string type, string endpoint)
    {
        var entry = new SensorEntry(this, id, type, endpoint);
        lock (_gate)
        {
            _entries.Add(entry);
        }

        return entry;
    }

    public IReadOnlyList<SensorSnapshot> Snapshot()
    {
        SensorEntry[] entries;
        lock (_gate)
        {
            entries = [.. _entries];
        }

        return [.. entries.Select(e => e.Snapshot())];
    }

    public SensorSnapshot? Find(string id)
    {
        lock (_gate)
        {
            return _entries.FirstOrDefault(e => e.Id == id)?.Snapshot();
        }
    }

    internal TimeProvider Time => time;

    internal TimeSpan StaleAfter => staleAfter;

    internal void Raise(SensorEntry entry)
    {
        var handler = StateChanged;
        if (handler is not null)
        {
            handler(this, entry.Snapshot());
        }
    }
}

/// <summary>One sensor's mutable state, written by its source and recorder.</summary>
internal sealed class SensorEntry(SensorRegistry owner, string id, string type, string endpoint)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, long> _rejectedByReason = new(StringComparer.Ordinal);
    private SensorLinkState _link;
    private string _linkMessage = "starting";
    private long _openedAt;
    private long _lastReadingTs;
    private DateTimeOffset? _lastReadingAt;
    private byte[] _lastReading = [];
    private long _lastRejectTs;
    private string? _lastRejectReason;
    private long _readings;
    private long _rejected;
    private long _ignored;
    private long _reconnects;
    private long _recordsDropped;
    private string? _readFailure;

    public string Id { get; } = id;

    public string Type { get; } = type;

    public string Endpoint { get; } = endpoint;

    public SensorLinkState Link
    {
        get
        {
            lock (_gate)
            {
                return _link;
            }
        }
    }

    public void SetLink(SensorLinkState link, string message, bool reconnected = false)
    {
        lock (_gate)
        {
            _link = link;
            _linkMessage = message;
            _readFailure = null;
            if (link == SensorLinkState.Open)
            {
                _openedAt = owner.Time.GetTimestamp();
                _reconnects += reconnected ? 1 : 0;
            }
        }

        owner.Raise(this);
    }

    public void Reading(DateTimeOffset at, long timestamp, byte[] json)
    {
        lock (_gate)
        {
            _readings++;
            _lastReadingAt = at;
            _lastReadingTs = timestamp;
            _lastReading = json;
            _readFailure = null;
        }

        owner.Raise(this);
    }

    /// <summary>
    /// A read of an open device failed (an I2C NACK or bus error): degraded with <paramref name="reason"/> until the next
    /// reading or link change. The link stays open: the device answered a moment ago, the reopen decides.
    /// </summary>
    public void ReadFailed(string reason)
    {
        lock (_gate)
        {
            _readFailure = reason;
        }

        owner.Raise(this);
    }

    public long Rejected(string reason)
    {
        lock (_gate)
        {
            _rejected++;
            _lastRejectTs = owner.Time.GetTimestamp();
            _lastRejectReason = reason;
            _rejectedByReason[reason] = _rejectedByReason.GetValueOrDefault(reason) + 1;
            return _rejected;
        }
    }

    public void Ignored()
    {
        lock (_gate)
        {
            _ignored++;
        }
    }

    public void RecordDropped()
    {
        lock (_gate)
        {
            _recordsDropped++;
        }
    }

    public SensorSnapshot Snapshot()
    {
        lock (_gate)
        {
            var (state, summary) = Health();
            return new SensorSnapshot(Id, Type, Endpoint, _link, state, summary, _lastReadingAt, _lastReading,
                _readings, _rejected, _ignored, new Dictionary<string, long>(_rejectedByReason), _reconnects, _recordsDropped);
        }
    }

    // Under _gate.
    private (HealthState, string) Health()
    {
        if (_link != SensorLinkState.Open)
        {
            return (HealthState.Unhealthy, _linkMessage);
        }

        if (_readFailure is not null)
        {
            return (HealthState.Degraded, $"{_linkMessage}, but {_readFailure}");
        }

        var time = owner.Time;
        var stale = owner.StaleAfter;
        var sinceOpen = time.GetElapsedTime(_openedAt);
        var sinceReading = _readings > 0 && _lastReadingTs >= _openedAt ? time.GetElapsedTime(_lastReadingTs) : sinceOpen;
        if (sinceReading <= stale)
        {
            return (HealthState.Healthy, _readings > 0 && _lastReadingTs >= _openedAt ? _linkMessage : _linkMessage + ", waiting for the first reading");
        }

        var seconds = (int)sinceReading.TotalSeconds;
        if (_lastRejectTs >= _openedAt && _lastRejectTs > 0 && time.GetElapsedTime(_lastRejectTs) <= stale)
        {
            return (HealthState.Degraded,
                $"{_linkMessage}, but no valid reading for {seconds} s while input is rejected (last: {_lastRejectReason}): wrong baud rate, framing or format?");
        }

        return (HealthState.Degraded, $"{_linkMessage}, but no data for {seconds} s: is the device powered and sending?");
    }
}
