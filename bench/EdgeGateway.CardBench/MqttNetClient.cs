using System.Diagnostics;
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
        using var slots = new SemaphoreSlim(window, window);
        var acked = 0;
        var failed = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var cpu0 = Environment.CpuUsage.TotalTime;
        var alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < n; i++)
        {
            await slots.WaitAsync().ConfigureAwait(false);
            _ = One();
        }

        await done.Task.ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var run = MqttPart.Measure(n, seconds, Environment.CpuUsage.TotalTime - cpu0, GC.GetTotalAllocatedBytes(precise: true) - alloc0);
        await client.DisconnectAsync().ConfigureAwait(false);
        return failed == 0 ? run : throw new InvalidOperationException($"MQTTnet: {failed} publishes were not acknowledged");

        async Task One()
        {
            try
            {
                // A message object per publish is how MQTTnet's API is used; its cost is part of the client's cost.
                var message = new MqttApplicationMessageBuilder()
                    .WithTopic("bench/mqttnet")
                    .WithPayload(payload)
                    .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                    .Build();
                var result = await client.PublishAsync(message).ConfigureAwait(false);
                if (!result.IsSuccess)
                {
                    Interlocked.Increment(ref failed);
                }
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failed);
            }

            slots.Release();
            if (Interlocked.Increment(ref acked) == n)
            {
                done.SetResult();
            }
        }
    }
}
