using System.Buffers;
using System.Text.Json;
using EdgeGateway.LocalApi.Hub;
using EdgeGateway.Sensors.Sources;
using Microsoft.Extensions.Hosting;

namespace EdgeGateway.Bridges;

/// <summary>
/// Publishes every sensor reading and link change on the local API's <c>sensors</c> channel as a
/// <c>sensor_update</c>. Runs on the sensor's read path, so it only serialises and hands the message
/// to the hub, which never waits on a client (latest-wins per sensor).
/// </summary>
internal sealed class SensorHubBridge(ISensorRegistry sensors, ILocalHub hub) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        sensors.StateChanged += OnStateChanged;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        sensors.StateChanged -= OnStateChanged;
        return Task.CompletedTask;
    }

    private void OnStateChanged(object? sender, SensorSnapshot snapshot)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "sensor_update");
            writer.WriteString("sensor_id", snapshot.Id);
            writer.WritePropertyName("data");
            snapshot.WriteTo(writer);
            writer.WriteEndObject();
        }

        hub.PublishUtf8(HubChannels.Sensors, snapshot.Id, buffer.WrittenMemory);
    }
}
