using System.Text;

namespace EdgeGateway.Mqtt.Protocol;

/// <summary>UTF-8 rules for MQTT strings (3.1.1 §1.5.3, 5.0 §1.5.4) and topic rules (§4.7).</summary>
internal static class MqttText
{
    /// <summary>Strict: a lone surrogate is an error, never silently replaced.</summary>
    public static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Counts the UTF-8 bytes of <paramref name="value"/>; false on a lone surrogate or U+0000.</summary>
    public static bool TryGetByteCount(string value, out int count)
    {
        count = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return false;
            }

            if (c < 0x80)
            {
                count += 1;
            }
            else if (c < 0x800)
            {
                count += 2;
            }
            else if (char.IsHighSurrogate(c))
            {
                if (i + 1 >= value.Length || !char.IsLowSurrogate(value[i + 1]))
                {
                    return false;
                }

                count += 4;
                i++;
            }
            else if (char.IsLowSurrogate(c))
            {
                return false;
            }
            else
            {
                count += 3;
            }
        }

        return count <= ushort.MaxValue;
    }

    /// <summary>A PUBLISH topic: 1..65535 bytes, valid UTF-8, no wildcards.</summary>
    public static bool IsValidTopicName(string? topic, out int byteCount)
    {
        byteCount = 0;
        if (string.IsNullOrEmpty(topic) || topic.AsSpan().IndexOfAny('+', '#') >= 0)
        {
            return false;
        }

        return TryGetByteCount(topic, out byteCount);
    }

    /// <summary>A SUBSCRIBE filter: '#' only last and alone in its level, '+' alone in its level.</summary>
    public static bool IsValidTopicFilter(string? filter, out int byteCount)
    {
        byteCount = 0;
        if (string.IsNullOrEmpty(filter) || !TryGetByteCount(filter, out byteCount))
        {
            return false;
        }

        var levels = filter.Split('/');
        for (var i = 0; i < levels.Length; i++)
        {
            var level = levels[i];
            if (level.Contains('#') && (level != "#" || i != levels.Length - 1))
            {
                return false;
            }

            if (level.Contains('+') && level != "+")
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether a received string is acceptable: well-formed UTF-8 (no encoded surrogates) and no U+0000.</summary>
    public static bool IsValidReceived(ReadOnlySpan<byte> utf8) =>
        System.Text.Unicode.Utf8.IsValid(utf8) && utf8.IndexOf((byte)0) < 0;
}
