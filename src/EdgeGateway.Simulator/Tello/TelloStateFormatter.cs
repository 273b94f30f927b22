using System.Globalization;
using System.Text;

namespace EdgeGateway.Simulator;

internal readonly record struct TelloStateValues(int Pitch, int Roll, int Yaw, int Vgx, int Vgy, int Vgz, int Templ, int Temph,
    int Tof, int H, int Bat, double Baro, int Time, double Agx, double Agy, double Agz, bool PadDetection);

/// <summary>Writes state datagrams in the SDK 1.3 / 2.0 / 3.0 text formats, and corrupt variants for fault injection.</summary>
internal static class TelloStateFormatter
{
    public static string Format(TelloSdkFormat format, TelloStateValues v)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder(220);
        switch (format)
        {
            case TelloSdkFormat.Sdk20:
                // 2.0: no pad seen is mid -1 with x/y/z 0.
                sb.Append("mid:-1;x:0;y:0;z:0;mpry:0,0,0;");
                break;
            case TelloSdkFormat.Sdk30:
                // 3.0: detection off is -2/-200; on but nothing seen is -1/-100.
                sb.Append(v.PadDetection ? "mid:-1;x:-100;y:-100;z:-100;mpry:-1,-1,-1;" : "mid:-2;x:-200;y:-200;z:-200;mpry:0,0,0;");
                break;
        }

        sb.Append(inv, $"pitch:{v.Pitch};roll:{v.Roll};yaw:{v.Yaw};vgx:{v.Vgx};vgy:{v.Vgy};vgz:{v.Vgz};")
          .Append(inv, $"templ:{v.Templ};temph:{v.Temph};tof:{v.Tof};h:{v.H};bat:{v.Bat};baro:{v.Baro:0.00};time:{v.Time};")
          .Append(inv, $"agx:{v.Agx:0.00};agy:{v.Agy:0.00};agz:{v.Agz:0.00};\r\n");
        return sb.ToString();
    }

    /// <summary>A damaged copy: truncated, a non-numeric value, missing keys, or an unknown key with a NUL.</summary>
    public static string Corrupt(string good, Random random)
    {
        switch (random.Next(4))
        {
            case 0:
                return good[..random.Next(1, Math.Max(2, good.Length - 2))];
            case 1:
                return good.Replace(";h:", ";h:#", StringComparison.Ordinal);
            case 2:
                var kept = good.TrimEnd('\r', '\n').Split(';', StringSplitOptions.RemoveEmptyEntries)
                    .Where(kv => !kv.StartsWith("bat:", StringComparison.Ordinal) && !kv.StartsWith("h:", StringComparison.Ordinal));
                return string.Join(';', kept) + ";\r\n";
            default:
                return "zz:1;\0" + good;
        }
    }
}
