using System.Diagnostics.Metrics;

namespace EdgeGateway.Mqtt;

/// <summary>Instruments of the "EdgeGateway.Mqtt" meter; every measurement carries a client_id tag.</summary>
internal static class MqttMetrics
{
    public static readonly Meter Meter = new("EdgeGateway.Mqtt");
    public static readonly Counter<long> ConnectAttempts = Meter.CreateCounter<long>("edge_mqtt_connect_attempts", "{attempt}");
    public static readonly Counter<long> Connections = Meter.CreateCounter<long>("edge_mqtt_connections", "{connection}");
    public static readonly Counter<long> Disconnects = Meter.CreateCounter<long>("edge_mqtt_disconnects", "{disconnect}");
    public static readonly UpDownCounter<long> Connected = Meter.CreateUpDownCounter<long>("edge_mqtt_connected", "{connection}");
    public static readonly Counter<long> Acknowledged = Meter.CreateCounter<long>("edge_mqtt_acknowledged_messages", "{message}");
    public static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("edge_mqtt_dead_lettered_messages", "{message}");
}
