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

    private static readonly JsonEncodedText IdName = JsonEncodedText.Encode("id");
    private static readonly JsonEncodedText GatewayName = JsonEncodedText.Encode("gateway");
    private static readonly JsonEncodedText SeqName = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText StreamName = JsonEncodedText.Encode("stream");
    private static readonly JsonEncodedText KindPropertyName = JsonEncodedText.Encode("kind");
    private static readonly JsonEncodedText TimeName = JsonEncodedText.Encode("time");
    private static readonly JsonEncodedText TimeSourcePropertyName = JsonEncodedText.Encode("time_source");
    private static readonly JsonEncodedText PayloadName = JsonEncodedText.Encode("payload");
    private static readonly JsonEncodedText PayloadBase64Name = JsonEncodedText.Encode("payload_base64");

    // One writer and buffer per thread, reused: a drain serializes hundreds of thousands of records in a row.
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>Writes one record object.</summary>
    public static void Write(Utf8JsonWriter writer, string gatewayId, BufferedRecord r)
    {
        writer.WriteStartObject();
        // "gw1:42" and the time are formatted into stack buffers: no string per record.
        Span<byte> id = stackalloc byte[128];
        writer.WriteString(IdName, FormatRecordId(id, gatewayId, r.Sequence));
        writer.WriteString(GatewayName, gatewayId);
        writer.WriteNumber(SeqName, r.Sequence);
        writer.WriteString(StreamName, r.Stream);
        writer.WriteString(KindPropertyName, KindName(r.Kind));
        Span<byte> time = stackalloc byte[24];
        writer.WriteString(TimeName, FormatTime(time, r.WallClock.UtcDateTime));
        writer.WriteString(TimeSourcePropertyName, TimeSourceName(r.TimeSource));
        if (IsJsonValue(r.Payload.Span))
        {
            writer.WritePropertyName(PayloadName);
            writer.WriteRawValue(r.Payload.Span, skipInputValidation: true);
        }
        else
        {
            // A payload that is not valid JSON still goes upstream, unmangled, rather than blocking the stream.
            writer.WriteBase64String(PayloadBase64Name, r.Payload.Span);
        }

        writer.WriteEndObject();
    }

    /// <summary><see cref="RecordId"/> as UTF-8 into <paramref name="destination"/> (falls back to the string for a long id).</summary>
    private static ReadOnlySpan<byte> FormatRecordId(Span<byte> destination, string gatewayId, long sequence)
    {
        if (System.Text.Encoding.UTF8.TryGetBytes(gatewayId, destination, out var n) && n < destination.Length)
        {
            destination[n] = (byte)':';
            if (sequence.TryFormat(destination[(n + 1)..], out var digits, default, CultureInfo.InvariantCulture))
            {
                return destination[..(n + 1 + digits)];
            }
        }

        return System.Text.Encoding.UTF8.GetBytes(RecordId(gatewayId, sequence));
    }

    /// <summary>UTC time as <c>yyyy-MM-ddTHH:mm:ss.fffZ</c> (what the custom DateTime format gave, without its cost).</summary>
    internal static ReadOnlySpan<byte> FormatTime(Span<byte> d, DateTime utc)
    {
        static void Two(Span<byte> d, int at, int v)
        {
            d[at] = (byte)('0' + (v / 10));
            d[at + 1] = (byte)('0' + (v % 10));
        }

        var year = utc.Year;
        d[0] = (byte)('0' + (year / 1000));
        d[1] = (byte)('0' + (year / 100 % 10));
        Two(d, 2, year % 100);
        d[4] = (byte)'-';
        Two(d, 5, utc.Month);
        d[7] = (byte)'-';
        Two(d, 8, utc.Day);
        d[10] = (byte)'T';
        Two(d, 11, utc.Hour);
        d[13] = (byte)':';
        Two(d, 14, utc.Minute);
        d[16] = (byte)':';
        Two(d, 17, utc.Second);
        d[19] = (byte)'.';
        var ms = utc.Millisecond;
        d[20] = (byte)('0' + (ms / 100));
        Two(d, 21, ms % 100);
        d[23] = (byte)'Z';
        return d[..24];
    }

    /// <summary>One record as a UTF-8 JSON object.</summary>
    public static byte[] Serialize(string gatewayId, BufferedRecord r)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer);
        writer.Reset(buffer);
        Write(writer, gatewayId, r);
        writer.Flush();
        var bytes = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 64 * 1024)
        {
            // Do not keep a huge record's buffer alive on this thread.
            t_buffer = null;
            t_writer = null;
        }

        return bytes;
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
