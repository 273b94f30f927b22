namespace EdgeGateway.Simulator.Serial;

/// <summary>A Benewake TFmini-S pointing down: 9-byte frames whose distance is the vehicle's height.</summary>
public sealed class SimulatedTfmini(IPositionSource position)
{
    /// <summary>One frame: 0x59 0x59, distance (cm), strength, temperature (TFmini-S: (°C + 256) × 8), checksum.</summary>
    public byte[] Frame()
    {
        var height = position.GetPosition().HeightCm;
        var distance = (int)Math.Clamp(Math.Round(height), 10, 1200); // the TFmini-S reads 0.1 m to 12 m
        return Encode(distance, strength: 2200, temperatureC: 38.0);
    }

    public static byte[] Encode(int distanceCm, int strength, double temperatureC)
    {
        var temp = (int)Math.Round((temperatureC + 256.0) * 8.0);
        var f = new byte[9];
        f[0] = 0x59;
        f[1] = 0x59;
        f[2] = (byte)(distanceCm & 0xFF);
        f[3] = (byte)(distanceCm >> 8);
        f[4] = (byte)(strength & 0xFF);
        f[5] = (byte)(strength >> 8);
        f[6] = (byte)(temp & 0xFF);
        f[7] = (byte)(temp >> 8);
        var sum = 0;
        for (var i = 0; i < 8; i++)
        {
            sum += f[i];
        }

        f[8] = (byte)sum;
        return f;
    }
}

/// <summary>
/// A home-made air-quality board printing key=value lines with units once a second:
/// <c>temperature=21.43C humidity=40.2% pressure=1013.1hPa pm2_5=8</c>.
/// </summary>
public sealed class SimulatedLineSensor
{
    private int _n;

    public string Line(DateTimeOffset now)
    {
        _n++;
        var phase = now.ToUnixTimeMilliseconds() / 60000.0;
        var t = 21.0 + Math.Sin(phase);
        var h = 40.0 + (5 * Math.Cos(phase));
        var pm = 8 + (_n % 5);
        return FormattableString.Invariant($"temperature={t:F2}C humidity={h:F1}% pressure=1013.2hPa pm2_5={pm}\r\n");
    }
}
