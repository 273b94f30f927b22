using System.Buffers;

namespace EdgeGateway.Mqtt.Protocol;

/// <summary>MQTT Variable Byte Integer (3.1.1 §2.2.3, 5.0 §1.5.5): 7 bits per byte, 1-4 bytes, minimal encoding.</summary>
internal static class VariableByteInteger
{
    public const int MaxValue = 268_435_455;

    public static int SizeOf(int value) => value switch
    {
        < 128 => 1,
        < 16_384 => 2,
        < 2_097_152 => 3,
        _ => 4,
    };

    public static int Write(Span<byte> destination, int value)
    {
        if ((uint)value > MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(value), value, "A Variable Byte Integer holds 0..268435455");
        }

        var i = 0;
        do
        {
            var digit = (byte)(value & 0x7F);
            value >>= 7;
            if (value > 0)
            {
                digit |= 0x80;
            }

            destination[i++] = digit;
        }
        while (value > 0);
        return i;
    }

    /// <summary>Reads a VBI; Incomplete if the sequence ends inside it; Error on a 5th byte or a non-minimal form.</summary>
    public static DecodeStatus TryRead(ref SequenceReader<byte> reader, out int value, out DecodeError error)
    {
        value = 0;
        error = DecodeError.None;
        var multiplier = 0;
        for (var i = 0; i < 4; i++)
        {
            if (!reader.TryRead(out var b))
            {
                return DecodeStatus.Incomplete;
            }

            value |= (b & 0x7F) << multiplier;
            if ((b & 0x80) == 0)
            {
                // A last byte of 0 after at least one continuation byte means the value fit in fewer bytes.
                if (i > 0 && b == 0)
                {
                    error = DecodeError.NonMinimalVariableByteInteger;
                    return DecodeStatus.Error;
                }

                return DecodeStatus.Complete;
            }

            multiplier += 7;
        }

        error = DecodeError.MalformedVariableByteInteger;
        return DecodeStatus.Error;
    }
}
