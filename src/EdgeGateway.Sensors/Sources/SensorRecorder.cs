using System.Buffers;
using System.Text.Json;
using EdgeGateway.Records;
using EdgeGateway.Sensors.Drivers;
using EdgeGateway.Time;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Sources;

/// <summary>
/// The sink every source hands its driver: turns readings into records (stream <c>sensor/{id}</c>, kind
/// <see cref="RecordKind.SensorReading"/>), keeps the registry's latest reading, counts and rate-limits
/// the log of rejected input, and tells the GPS time listener about valid GPS time.
/// </summary>
internal sealed class SensorRecorder : ISensorSink
{
    private static readonly TimeSpan RejectLogInterval = TimeSpan.FromMinutes(1);

    private readonly SensorEntry _entry;
    private readonly IRecordWriter _writer;
    private readonly IWallClock _clock;
    private readonly TimeProvider _time;
    private readonly SensorMetrics _metrics;
    private readonly IGpsTimeListener? _gpsTime;
    private readonly ILogger _logger;
    private readonly string _stream;
    private readonly long _minRecordTicks;
    private readonly KeyValuePair<string, object?> _sensorTag;
    private readonly Dictionary<string, long> _rejectsSinceLog = new(StringComparer.Ordinal);
    private long _lastRecordTs = long.MinValue;
    private long _lastRejectLog = long.MinValue;
    private long _dropped;

    public SensorRecorder(SensorEntry entry, double maxRecordRateHz, IRecordWriter writer, IWallClock clock, TimeProvider time,
        SensorMetrics metrics, IGpsTimeListener? gpsTime, ILogger logger)
    {
        _entry = entry;
        _writer = writer;
        _clock = clock;
        _time = time;
        _metrics = metrics;
        _gpsTime = gpsTime;
        _logger = logger;
        _stream = "sensor/" + entry.Id;
        _minRecordTicks = maxRecordRateHz > 0 ? (long)(time.TimestampFrequency / maxRecordRateHz) : 0;
        _sensorTag = new("sensor", entry.Id);
    }

    public void OnReading(SensorReading reading)
    {
        ArgumentNullException.ThrowIfNull(reading);
        var (now, source) = _clock.Now();
        var timestamp = _time.GetTimestamp();
        var payload = Serialize(reading);
        _metrics.Readings.Add(1, _sensorTag);

        if (reading is GpsReading { Fix: { TimeValid: true, UtcTime: { } gpsUtc } })
        {
            _gpsTime?.OnGpsTime(gpsUtc, now);
            (now, source) = _clock.Now();
        }

        if (_minRecordTicks == 0 || _lastRecordTs == long.MinValue || timestamp - _lastRecordTs >= _minRecordTicks)
        {
            _lastRecordTs = timestamp;
            var record = new TelemetryRecord(_stream, RecordKind.SensorReading, now, source, timestamp, payload);
            if (!_writer.TryWrite(record))
            {
                _entry.RecordDropped();
                _metrics.RecordsDropped.Add(1, _sensorTag);
                if (_dropped++ % 1000 == 0)
                {
                    SensorsLog.RecordsDropped(_logger, _entry.Id, _dropped);
                }
            }
        }

        _entry.Reading(now, timestamp, payload);
    }

    public void OnRejected(string reason)
    {
        _metrics.Rejected.Add(1, _sensorTag, new("reason", reason));
        _rejectsSinceLog[reason] = _rejectsSinceLog.GetValueOrDefault(reason) + 1;
        var now = _time.GetTimestamp();
        if (_lastRejectLog == long.MinValue || _time.GetElapsedTime(_lastRejectLog, now) >= RejectLogInterval)
        {
            _lastRejectLog = now;
            var total = _rejectsSinceLog.Values.Sum();
            var reasons = string.Join(", ", _rejectsSinceLog.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} ×{kv.Value}"));
            _rejectsSinceLog.Clear();
            SensorsLog.Rejected(_logger, _entry.Id, total, reasons);
        }

        // Published to the registry after the log line: whoever sees the rejection in a snapshot also finds the log.
        _entry.Rejected(reason);
    }

    public void OnIgnored(string reason)
    {
        _entry.Ignored();
        _metrics.Ignored.Add(1, _sensorTag, new("reason", reason));
    }

    private byte[] Serialize(SensorReading reading)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("sensor", _entry.Id);
            writer.WriteString("type", reading.Type);
            reading.WriteFields(writer);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
