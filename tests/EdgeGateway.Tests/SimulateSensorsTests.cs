using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.Tests;

/// <summary>--simulate end to end: the simulated serial sensors are read through the real serial code.</summary>
public sealed class SimulateSensorsTests : IDisposable
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-sensors-").FullName;

    public void Dispose() => Directory.Delete(_dataDir, recursive: true);

    [Fact]
    public async Task Simulated_gps_follows_the_drone_and_sensor_readings_reach_the_api_the_websocket_and_the_buffer()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        args.Add("--Simulator:TimeScale=10");
        await using var gateway = GatewayProcess.Start(args);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(20) };

        JsonElement gps = default;
        await TaskTimeouts.Eventually(() => (gps = Sensor(http, "gps0")).ValueKind == JsonValueKind.Object
                && gps.TryGetProperty("has_fix", out var fix) && fix.GetBoolean(),
            () => "gps0 has a fix\n" + gateway.Output, TimeSpan.FromSeconds(45));
        var startLat = gps.GetProperty("lat_deg").GetDouble();
        await TaskTimeouts.Eventually(() => Connected(http), () => "drone connected\n" + gateway.Output, TimeSpan.FromSeconds(30));

        // Fly 5 m forward (north at yaw 0): the simulated GPS moves with the drone.
        await Execute(http, "takeoff", new { });
        await Execute(http, "move_forward", new { distance = 500 });
        await TaskTimeouts.Eventually(() => Sensor(http, "gps0") is { ValueKind: JsonValueKind.Object } g
                && g.GetProperty("lat_deg").GetDouble() > startLat + 3e-5,
            () => $"gps latitude moved north of {startLat}\n" + gateway.Output, TimeSpan.FromSeconds(30));

        // The tfmini and the line sensor report too, and the readings are buffered with their time source.
        Assert.Equal(JsonValueKind.Number, Sensor(http, "tfmini0").GetProperty("distance_m").ValueKind);
        Assert.True(Sensor(http, "air0").GetProperty("values").TryGetProperty("temperature_c", out _));

        // The emulated I2C chips, read through the real bindings: plausible values, the barometer following the flight.
        var baro = Sensor(http, "baro0").GetProperty("values");
        Assert.InRange(baro.GetProperty("pressure_hpa").GetDouble(), 950, 1013.3);
        Assert.InRange(baro.GetProperty("humidity_pct").GetDouble(), 40, 70);
        var power = Sensor(http, "power0").GetProperty("values");
        Assert.InRange(power.GetProperty("bus_voltage_v").GetDouble(), 4.9, 5.1);
        Assert.InRange(power.GetProperty("current_a").GetDouble(), 0.5, 1.0);
        Assert.InRange(Sensor(http, "imu0").GetProperty("values").GetProperty("accel_z_g").GetDouble(), 0.95, 1.05);
        var history = await http.GetFromJsonAsync<JsonElement>("/api/telemetry?stream=sensor/gps0&limit=5").WithTimeout();
        Assert.True(history.GetProperty("count").GetInt32() > 0);
        Assert.Equal("sensor_reading", history.GetProperty("records")[0].GetProperty("kind").GetString());

        // The sensors channel on the WebSocket carries sensor_update frames.
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws"), CancellationToken.None).WithTimeout();
        await Send(ws, new { type = "subscribe", channel = "sensors" });
        var seen = await ReceiveUntil(ws, f => f.GetProperty("type").GetString() == "sensor_update").WithTimeout();
        Assert.False(string.IsNullOrEmpty(seen.GetProperty("sensor_id").GetString()));
        Assert.Equal(JsonValueKind.Object, seen.GetProperty("data").ValueKind);
    }

    private static JsonElement Sensor(HttpClient http, string id)
    {
        try
        {
            var all = http.GetFromJsonAsync<JsonElement>("/api/sensors").WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
            foreach (var s in all.GetProperty("sensors").EnumerateArray())
            {
                if (s.GetProperty("id").GetString() == id && s.TryGetProperty("last_reading", out var r) && r.ValueKind == JsonValueKind.Object)
                {
                    return r;
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
        {
        }

        return default;
    }

    private static bool Connected(HttpClient http)
    {
        try
        {
            return http.GetFromJsonAsync<JsonElement>("/api/drone/status").WaitAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult()
                .GetProperty("connected").GetBoolean();
        }
        catch (Exception ex) when (ex is HttpRequestException or TimeoutException or TaskCanceledException or JsonException)
        {
            return false;
        }
    }

    private static async Task Execute(HttpClient http, string action, object parameters)
    {
        using var response = await http.PostAsJsonAsync("/api/drone/execute", new { action, parameters }).WithTimeout(TimeSpan.FromSeconds(30));
        var body = await response.Content.ReadFromJsonAsync<JsonElement>().WithTimeout();
        Assert.True(response.IsSuccessStatusCode && body.GetProperty("success").GetBoolean(), $"{action}: {(int)response.StatusCode} {body}");
    }

    private static Task Send(ClientWebSocket ws, object message) =>
        ws.SendAsync(JsonSerializer.SerializeToUtf8Bytes(message), WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout();

    private static async Task<JsonElement> ReceiveUntil(ClientWebSocket ws, Func<JsonElement, bool> match)
    {
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var text = new StringBuilder();
            WebSocketReceiveResult result;
            do
            {
                result = await ws.ReceiveAsync(buffer, CancellationToken.None);
                text.Append(Encoding.UTF8.GetString(buffer, 0, result.Count));
            }
            while (!result.EndOfMessage);

            var frame = JsonDocument.Parse(text.ToString()).RootElement.Clone();
            if (match(frame))
            {
                return frame;
            }
        }
    }
}
