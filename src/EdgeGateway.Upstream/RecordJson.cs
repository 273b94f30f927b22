using System.Buffers;
using System.Globalization;
using System.Text.Json;
using EdgeGateway.Buffer;
using EdgeGateway.Records;

namespace EdgeGateway.Upstream;

/// <summary>
/// The JSON form of a record upstream (both sinks): <c>{"id":"gw1:42","gateway":"gw1","seq":42,"stream":…,"kind":…,
/// "time":…,"time_source":…,"payload":{…}}</c>. The id is the gateway id and the sequence: unique, so consumers drop
/// duplicates by it.
/// </summary>
public static class RecordJson
{
    public static string RecordId(string gatewayId, long sequence) => gatewayId + ":" + sequence.ToString(CultureInfo.InvariantCulture);

    public static string KindName(RecordKind kind) => kind switch
    {
        RecordKind.DroneState => "drone_state",
        RecordKind.SensorReading => "sensor_reading",
        RecordKind.Event => "event",
        RecordKind.CommandAudit => "command_audit",
        RecordKind.Gap => "gap",
        _ => "unknown",
    };

    public static string TimeSourceName(TimeSource source) => source switch
    {
        TimeSource.Ntp => "ntp",
        TimeSource.Gps => "gps",
        _ => "unsynced",
    };

    /// <summary>Writes one record object.</summary>
    public static void Write(Utf8JsonWriter writer, string gatewayId, BufferedRecord r)
    {
        writer.WriteStartObject();
        writer.WriteString("id", RecordId(gatewayId, r.Sequence));
        writer.WriteString("gateway", gatewayId);
        writer.WriteNumber("seq", r.Sequence);
        writer.WriteString("stream", r.Stream);
        writer.WriteString("kind", KindName(r.Kind));
        writer.WriteString("time", r.WallClock.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
        writer.WriteString("time_source", TimeSourceName(r.TimeSource));
        if (IsJsonValue(r.Payload.Span))
        {
            writer.WritePropertyName("payload");
            writer.WriteRawValue(r.Payload.Span, skipInputValidation: true);
        }
        else
        {
            // A payload that is not valid JSON still goes upstream, unmangled, rather than blocking the stream.
            writer.WriteBase64String("payload_base64", r.Payload.Span);
        }

        writer.WriteEndObject();
    }

    /// <summary>One record as a UTF-8 JSON object.</summary>
    public static byte[] Serialize(string gatewayId, BufferedRecord r)
    {
        var buffer = new ArrayBufferWriter<byte>(256 + r.Payload.Length);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            Write(writer, gatewayId, r);
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary><c>{"type":"batch","gateway":…,"records":[…]}</c>; also the relay's batch frame (plus its own fields).</summary>
    public static byte[] SerializeBatch(string gatewayId, IEnumerable<BufferedRecord> records, Action<Utf8JsonWriter>? extra = null)
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("type", "batch");
            extra?.Invoke(writer);
            writer.WriteString("gateway", gatewayId);
            writer.WriteStartArray("records");
            foreach (var r in records)
            {
                Write(writer, gatewayId, r);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static bool IsJsonValue(ReadOnlySpan<byte> payload)
    {
        if (payload.IsEmpty)
        {
            return false;
        }

        var reader = new Utf8JsonReader(payload);
        try
        {
            return reader.Read() && reader.TrySkip() && !reader.Read();
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
