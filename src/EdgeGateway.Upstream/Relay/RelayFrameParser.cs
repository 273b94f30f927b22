using System.Text.Json;

namespace EdgeGateway.Upstream.Relay;

/// <summary>What a text frame from the receiver turned out to be.</summary>
internal enum RelayFrameKind
{
    /// <summary>A cumulative <c>{"type":"ack","seq":N}</c>.</summary>
    Ack = 0,
    /// <summary>A JSON object of another (or no) type: ignored, so a receiver may add messages.</summary>
    Ignored,
    /// <summary>Valid JSON, but not an object.</summary>
    NotJsonObject,
    /// <summary>Not JSON, or a name or type with an escape that is not text (a lone surrogate).</summary>
    InvalidJson,
    /// <summary>An ack whose <c>seq</c> is missing or not an integer.</summary>
    AckWithoutSeq,
}

/// <summary>
/// Reads the receiver's control frames (docs/relay-protocol.md). Pure and separate from the connection so it
/// can be fuzzed on its own; the bytes come from the network, so it answers with a kind and never throws.
/// </summary>
internal static class RelayFrameParser
{
    public static RelayFrameKind Parse(ReadOnlySpan<byte> frame, out long sequence, out string? error)
    {
        sequence = 0;
        error = null;
        var isAck = false;
        long? seq = null;
        try
        {
            var reader = new Utf8JsonReader(frame);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "not a JSON object";
                return RelayFrameKind.NotJsonObject;
            }

            // Names and the type are compared as UTF-8, never transcoded, so invalid UTF-8 (a binary frame, a buggy
            // receiver) makes a name or type that matches nothing rather than an exception.
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isType = reader.ValueTextEquals("type"u8);
                var isSeq = !isType && reader.ValueTextEquals("seq"u8);
                reader.Read();
                if (isType && reader.TokenType == JsonTokenType.String)
                {
                    isAck = reader.ValueTextEquals("ack"u8);
                }
                else if (isSeq && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var s))
                {
                    seq = s;
                }
                else
                {
                    reader.TrySkip();
                }
            }
        }
        catch (JsonException e)
        {
            error = "invalid JSON: " + e.Message;
            return RelayFrameKind.InvalidJson;
        }
        catch (InvalidOperationException e)
        {
            // A lone surrogate escape ("\ud800") in a name or the type: System.Text.Json refuses to unescape it.
            error = "invalid JSON text: " + e.Message;
            return RelayFrameKind.InvalidJson;
        }

        if (!isAck)
        {
            return RelayFrameKind.Ignored;
        }

        if (seq is not { } upTo)
        {
            error = "ack without a numeric seq";
            return RelayFrameKind.AckWithoutSeq;
        }

        sequence = upTo;
        return RelayFrameKind.Ack;
    }
}
