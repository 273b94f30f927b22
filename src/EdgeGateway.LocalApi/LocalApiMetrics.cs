using System.Diagnostics.Metrics;

namespace EdgeGateway.LocalApi;

/// <summary>Instruments of the meter <c>EdgeGateway.LocalApi</c>.</summary>
internal sealed class LocalApiMetrics : IDisposable
{
    public const string MeterName = "EdgeGateway.LocalApi";

    private readonly Meter _meter;

    public LocalApiMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        Connections = _meter.CreateUpDownCounter<long>("edge_localapi_ws_connections", "{connection}", "Open WebSocket connections");
        Accepted = _meter.CreateCounter<long>("edge_localapi_ws_accepted_connections", "{connection}", "WebSocket connections accepted");
        MessagesIn = _meter.CreateCounter<long>("edge_localapi_ws_messages_received", "{message}", "Client messages received");
        MessagesOut = _meter.CreateCounter<long>("edge_localapi_ws_messages_sent", "{message}", "Messages sent to clients");
        Superseded = _meter.CreateCounter<long>("edge_localapi_ws_updates_superseded", "{message}", "Latest-wins updates replaced by a newer one before a slow client took them");
        Dropped = _meter.CreateCounter<long>("edge_localapi_ws_messages_dropped", "{message}", "Messages refused by a client's full send queue (the client is then closed with 1013; nothing is counted for a client already closing)");
        Disconnects = _meter.CreateCounter<long>("edge_localapi_ws_disconnects", "{connection}", "Closed connections by reason");
        HttpRequests = _meter.CreateCounter<long>("edge_localapi_http_requests", "{request}", "HTTP API requests by route and status");
        CommandLatency = _meter.CreateHistogram<double>("edge_localapi_command_duration_seconds", "s", "From command accepted to drone reply");
        Commands = _meter.CreateCounter<long>("edge_localapi_commands", "{command}", "Commands by action and outcome");
        Failsafes = _meter.CreateCounter<long>("edge_localapi_failsafe_actions", "{action}", "Failsafe hovers and landings");
    }

    public UpDownCounter<long> Connections { get; }
    public Counter<long> Accepted { get; }
    public Counter<long> MessagesIn { get; }
    public Counter<long> MessagesOut { get; }
    public Counter<long> Superseded { get; }
    public Counter<long> Dropped { get; }
    public Counter<long> Disconnects { get; }
    public Counter<long> HttpRequests { get; }
    public Histogram<double> CommandLatency { get; }
    public Counter<long> Commands { get; }
    public Counter<long> Failsafes { get; }

    public void Dispose() => _meter.Dispose();
}
