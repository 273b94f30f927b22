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
        string? type = null;
        long? seq = null;
        try
        {
            var reader = new Utf8JsonReader(frame);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                error = "not a JSON object";
                return RelayFrameKind.NotJsonObject;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.GetString();
                reader.Read();
                if (name == "type" && reader.TokenType == JsonTokenType.String)
                {
                    type = reader.GetString();
                }
                else if (name == "seq" && reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var s))
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

        if (type != "ack")
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
