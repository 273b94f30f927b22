using System.Diagnostics.Metrics;

namespace EdgeGateway.Upstream;

/// <summary>What a sink exposes for metrics and health.</summary>
public interface IUpstreamLinkState
{
    string Name { get; }

    /// <summary>"mqtt" or "relay".</summary>
    string Transport { get; }

    bool IsConnected { get; }

    /// <summary>Records handed to the link and not yet acknowledged.</summary>
    int Inflight { get; }

    /// <summary>Capture time of the oldest unacknowledged record, if any (lag in seconds = now - this).</summary>
    DateTimeOffset? OldestUnacknowledged { get; }

    long Reconnects { get; }

    long Acknowledged { get; }

    /// <summary>Why the link is down (redacted), when it is.</summary>
    string? LastError { get; }

    /// <summary>Records dead-lettered since start (the relay never dead-letters: its receiver acks cumulatively).</summary>
    long DeadLettered => 0;

    /// <summary>Rows of this sink in the dead-letter table.</summary>
    long DeadLetterRows => 0;

    /// <summary>Why a connected link carries no records (e.g. the broker allows only QoS 0), or null.</summary>
    string? Refusal => null;
}

/// <summary>The "EdgeGateway.Upstream" meter. Every measurement carries a <c>sink</c> tag.</summary>
public sealed class UpstreamMetrics : IDisposable
{
    public const string MeterName = "EdgeGateway.Upstream";
    private readonly Meter _meter;
    private readonly List<IUpstreamLinkState> _links = [];
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    public UpstreamMetrics(IMeterFactory? meterFactory = null, TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Sent = _meter.CreateCounter<long>("edge_upstream_sent_records", "{record}", "Records handed to the upstream link (resends included)");
        Acked = _meter.CreateCounter<long>("edge_upstream_acked_records", "{record}", "Records the upstream acknowledged");
        Reconnects = _meter.CreateCounter<long>("edge_upstream_reconnects", "{connection}", "Connections established after the first");
        DeadLettered = _meter.CreateCounter<long>("edge_upstream_dead_lettered_records", "{record}", "Records the MQTT client refused for good (oversize, rejected)");
        _meter.CreateObservableGauge("edge_upstream_connected", () => Observe(l => l.IsConnected ? 1 : 0), "{connection}", "1 while the link is up");
        _meter.CreateObservableGauge("edge_upstream_inflight_records", () => Observe(l => l.Inflight), "{record}", "Records sent and not yet acknowledged");
        _meter.CreateObservableGauge("edge_upstream_lag_seconds", () => ObserveLag(), "s", "Age of the oldest unacknowledged record");
        _meter.CreateObservableGauge("edge_upstream_dead_letter_records", () => ObserveLong(l => l.DeadLetterRows), "{record}", "Rows of the sink in the dead-letter table");
    }

    internal Meter Meter => _meter;

    public Counter<long> Sent { get; }

    public Counter<long> Acked { get; }

    public Counter<long> Reconnects { get; }

    public Counter<long> DeadLettered { get; }

    public void Register(IUpstreamLinkState link)
    {
        lock (_gate)
        {
            _links.Add(link);
        }
    }

    public void Unregister(IUpstreamLinkState link)
    {
        lock (_gate)
        {
            _links.Remove(link);
        }
    }

    private List<Measurement<int>> Observe(Func<IUpstreamLinkState, int> value)
    {
        lock (_gate)
        {
            return [.. _links.Select(l => new Measurement<int>(value(l), new KeyValuePair<string, object?>("sink", l.Name)))];
        }
    }

    private List<Measurement<long>> ObserveLong(Func<IUpstreamLinkState, long> value)
    {
        lock (_gate)
        {
            return [.. _links.Select(l => new Measurement<long>(value(l), new KeyValuePair<string, object?>("sink", l.Name)))];
        }
    }

    private List<Measurement<double>> ObserveLag()
    {
        var now = _time.GetUtcNow();
        lock (_gate)
        {
            return [.. _links.Select(l => new Measurement<double>(
                l.OldestUnacknowledged is { } t ? Math.Max(0, (now - t).TotalSeconds) : 0, new KeyValuePair<string, object?>("sink", l.Name)))];
        }
    }

    public void Dispose() => _meter.Dispose();
}
