using System.Buffers;

namespace EdgeGateway.Mqtt.Tests;

internal static class Hex
{
    /// <summary>Parses "10 34 00 04 'MQTT'"-free hex with any whitespace.</summary>
    public static byte[] Parse(string hex) => Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    public static string Format(ReadOnlySpan<byte> bytes) => Convert.ToHexString(bytes);

    public static byte[] Written(Action<ArrayBufferWriter<byte>> write)
    {
        var w = new ArrayBufferWriter<byte>();
        write(w);
        return w.WrittenSpan.ToArray();
    }
}
