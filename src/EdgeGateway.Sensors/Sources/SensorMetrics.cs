using System.Diagnostics.Metrics;

namespace EdgeGateway.Sensors.Sources;

/// <summary>Instruments of the meter <c>EdgeGateway.Sensors</c>; every one is tagged with <c>sensor</c>.</summary>
public sealed class SensorMetrics : IDisposable
{
    public const string MeterName = "EdgeGateway.Sensors";

    private readonly Meter _meter;

    public SensorMetrics(IMeterFactory? factory = null)
    {
        _meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Readings = _meter.CreateCounter<long>("edge_sensor_readings", "{reading}", "Readings decoded from sensors");
        Rejected = _meter.CreateCounter<long>("edge_sensor_rejected_inputs", "{input}", "Lines, sentences or frames thrown away as bad; tag reason");
        Ignored = _meter.CreateCounter<long>("edge_sensor_ignored_inputs", "{input}", "Valid input the driver does not use (other NMEA sentences)");
        Reconnects = _meter.CreateCounter<long>("edge_sensor_reconnects", "{reconnect}", "Times a sensor's device came back after it went away");
        OpenFailures = _meter.CreateCounter<long>("edge_sensor_open_failures", "{failure}", "Failed attempts to open a device; tag error");
        RecordsDropped = _meter.CreateCounter<long>("edge_sensor_records_dropped", "{record}", "Readings the record intake refused");
    }

    public Counter<long> Readings { get; }

    public Counter<long> Rejected { get; }

    public Counter<long> Ignored { get; }

    public Counter<long> Reconnects { get; }

    public Counter<long> OpenFailures { get; }

    public Counter<long> RecordsDropped { get; }

    public void Dispose() => _meter.Dispose();
}
