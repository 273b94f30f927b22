using System.Buffers;
using System.Text.Json;
using EdgeGateway.Drones;

namespace EdgeGateway.LocalApi;

/// <summary>
/// The one status object served by <c>GET /api/drone/status</c> and in <c>status_update.data</c>.
/// Written by hand with <see cref="Utf8JsonWriter"/>: it is the hot path (every state, serialized once for all clients).
/// </summary>
internal static class StatusJson
{
    public static void WriteStatusObject(Utf8JsonWriter w, DroneStatus status, TelloState? state, DateTimeOffset? receivedAt)
    {
        state ??= status.State;
        receivedAt ??= status.LastStateAt;
        w.WriteStartObject();
        w.WriteBoolean("connected", status.Connected);
        WriteInt(w, "battery", state?.BatteryPercent);
        w.WriteString("drone_id", status.DroneId);
        w.WriteString("link", HealthName(status.Health));
        w.WriteBoolean("is_flying", status.IsFlying);
        WriteInt(w, "height_cm", state?.HeightCm);
        w.WriteStartObject("temperature_c");
        WriteInt(w, "low", state?.TemperatureLowC);
        WriteInt(w, "high", state?.TemperatureHighC);
        w.WriteEndObject();
        w.WriteStartObject("attitude_deg");
        WriteInt(w, "pitch", state?.PitchDeg);
        WriteInt(w, "roll", state?.RollDeg);
        WriteInt(w, "yaw", state?.YawDeg);
        w.WriteEndObject();
        w.WriteStartObject("speed_dm_s");
        WriteInt(w, "x", state?.SpeedX);
        WriteInt(w, "y", state?.SpeedY);
        WriteInt(w, "z", state?.SpeedZ);
        w.WriteEndObject();
        w.WriteStartObject("acceleration_mg");
        WriteDouble(w, "x", state?.AccelX);
        WriteDouble(w, "y", state?.AccelY);
        WriteDouble(w, "z", state?.AccelZ);
        w.WriteEndObject();
        WriteDouble(w, "barometer", state?.Barometer);
        WriteInt(w, "tof_cm", state?.TofCm);
        WriteInt(w, "flight_time_s", state?.FlightTimeS);
        if (receivedAt is { } at)
        {
            w.WriteString("last_update", at.UtcDateTime);
            // Sub-millisecond receive time for latency measurement (load tool).
            w.WriteNumber("last_update_unix_ms", at.ToUnixTimeMilliseconds() + (at.UtcTicks % TimeSpan.TicksPerMillisecond) / (double)TimeSpan.TicksPerMillisecond);
        }
        else
        {
            w.WriteNull("last_update");
            w.WriteNull("last_update_unix_ms");
        }

        w.WriteEndObject();
    }

    /// <summary>A whole <c>status_update</c> frame, UTF-8.</summary>
    /// <summary>The status object when no drone is configured: same keys, <c>connected: false</c>, everything else null.</summary>
    public static void WriteNoDroneObject(Utf8JsonWriter w)
    {
        w.WriteStartObject();
        w.WriteBoolean("connected", false);
        w.WriteNull("battery");
        w.WriteNull("drone_id");
        w.WriteNull("link");
        w.WriteBoolean("is_flying", false);
        foreach (var key in (ReadOnlySpan<string>)["height_cm", "temperature_c", "attitude_deg", "speed_dm_s", "acceleration_mg", "barometer",
                     "tof_cm", "flight_time_s", "last_update", "last_update_unix_ms"])
        {
            w.WriteNull(key);
        }

        w.WriteEndObject();
    }

    public static byte[] StatusUpdateFrame(DroneStatus status, TelloState? state, DateTimeOffset? receivedAt)
    {
        var buffer = new ArrayBufferWriter<byte>(768);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("type", "status_update");
            w.WriteString("drone_id", status.DroneId);
            w.WritePropertyName("data");
            WriteStatusObject(w, status, state, receivedAt);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static string HealthName(DroneLinkHealth health) => health switch
    {
        DroneLinkHealth.Connecting => "connecting",
        DroneLinkHealth.Fresh => "fresh",
        DroneLinkHealth.Degraded => "degraded",
        DroneLinkHealth.Lost => "lost",
        _ => "unknown",
    };

    private static void WriteInt(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }

    private static void WriteDouble(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v && double.IsFinite(v))
        {
            w.WriteNumber(name, v);
        }
        else
        {
            w.WriteNull(name);
        }
    }
}
