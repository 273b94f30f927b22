using System.Buffers;
using System.Text.Json;

namespace EdgeGateway.Drones.Tello;

/// <summary>The record payload for a state datagram: snake_case keys with named units, plus <c>raw</c>.</summary>
public static class StateJson
{
    public static byte[] Serialize(TelloState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            Int(w, "mission_pad_id", state.MissionPadId);
            Int(w, "mission_pad_x_cm", state.MissionPadX);
            Int(w, "mission_pad_y_cm", state.MissionPadY);
            Int(w, "mission_pad_z_cm", state.MissionPadZ);
            if (state.MissionPadAttitude is { } mp)
            {
                w.WriteNumber("mission_pad_pitch_deg", mp.Pitch);
                w.WriteNumber("mission_pad_roll_deg", mp.Roll);
                w.WriteNumber("mission_pad_yaw_deg", mp.Yaw);
            }

            Int(w, "pitch_deg", state.PitchDeg);
            Int(w, "roll_deg", state.RollDeg);
            Int(w, "yaw_deg", state.YawDeg);
            Int(w, "speed_x_dm_s", state.SpeedX);
            Int(w, "speed_y_dm_s", state.SpeedY);
            Int(w, "speed_z_dm_s", state.SpeedZ);
            Int(w, "temperature_low_c", state.TemperatureLowC);
            Int(w, "temperature_high_c", state.TemperatureHighC);
            Int(w, "tof_cm", state.TofCm);
            Int(w, "height_cm", state.HeightCm);
            Int(w, "battery_percent", state.BatteryPercent);
            Dbl(w, "barometer", state.Barometer);
            Int(w, "flight_time_s", state.FlightTimeS);
            Dbl(w, "accel_x_mg", state.AccelX);
            Dbl(w, "accel_y_mg", state.AccelY);
            Dbl(w, "accel_z_mg", state.AccelZ);
            if (state.UnknownKeys is { Count: > 0 } unknown)
            {
                w.WriteStartObject("unknown");
                foreach (var (k, v) in unknown)
                {
                    w.WriteString(k, v);
                }

                w.WriteEndObject();
            }

            w.WriteString("raw", state.Raw);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static void Int(Utf8JsonWriter w, string name, int? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }

    private static void Dbl(Utf8JsonWriter w, string name, double? value)
    {
        if (value is { } v)
        {
            w.WriteNumber(name, v);
        }
    }
}
