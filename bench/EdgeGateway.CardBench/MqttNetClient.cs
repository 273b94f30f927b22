using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgeGateway.CardBench;

/// <summary>MQTTnet 5 with the same method as the other two clients: a semaphore of W slots around PublishAsync.</summary>
internal static class MqttNetClient
{
    public static async Task<MqttPart.Run> RunAsync(int port, int n, int window, int size)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer("127.0.0.1", port)
            .WithClientId("bench-mqttnet")
            .WithCleanSession(true)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(60))
            .Build();
        await client.ConnectAsync(options).ConfigureAwait(false);
        var payload = new byte[size];
        Array.Fill(payload, (byte)'0');
        // One message object reused for every publish: MQTTnet's cheapest use (the payload is never copied by us).
        var message = new MqttApplicationMessageBuilder()
            .WithTopic("bench/mqttnet")
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        var failed = 0;
        var run = await MqttPart.WindowedAsync(n, window, () => new ValueTask<MqttClientPublishResult>(client.PublishAsync(message)), r =>
        {
            if (!r.IsSuccess)
            {
                Interlocked.Increment(ref failed);
            }
        }).ConfigureAwait(false);
        await client.DisconnectAsync().ConfigureAwait(false);
        return failed == 0 ? run : throw new InvalidOperationException($"MQTTnet: {failed} publishes were not acknowledged");
    }
}
