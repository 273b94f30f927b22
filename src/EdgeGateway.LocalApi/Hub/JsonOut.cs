using System.Buffers;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>Small helpers to write reply frames without reflection on the hot path.</summary>
internal static class JsonOut
{
    public static byte[] Build(Action<Utf8JsonWriter> write)
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            write(w);
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static void WriteValue(Utf8JsonWriter w, string name, object? value)
    {
        w.WritePropertyName(name);
        WriteValue(w, value);
    }

    public static void WriteValue(Utf8JsonWriter w, object? value)
    {
        switch (value)
        {
            case null: w.WriteNullValue(); break;
            case string s: w.WriteStringValue(s); break;
            case bool b: w.WriteBooleanValue(b); break;
            case int i: w.WriteNumberValue(i); break;
            case long l: w.WriteNumberValue(l); break;
            case uint u: w.WriteNumberValue(u); break;
            case ulong u: w.WriteNumberValue(u); break;
            case short s: w.WriteNumberValue(s); break;
            case byte b: w.WriteNumberValue(b); break;
            case decimal m: w.WriteNumberValue(m); break;
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case float f when float.IsFinite(f): w.WriteNumberValue(f); break;
            case double or float: w.WriteNullValue(); break;
            case DateTimeOffset t: w.WriteStringValue(t); break;
            case DateTime t: w.WriteStringValue(t); break;
            case JsonElement e: e.WriteTo(w); break;
            case JsonNode n: n.WriteTo(w); break;
            case IReadOnlyDictionary<string, object?> dict:
                w.WriteStartObject();
                foreach (var (k, v) in dict)
                {
                    WriteValue(w, k, v);
                }

                w.WriteEndObject();
                break;
            case IEnumerable<object?> list:
                w.WriteStartArray();
                foreach (var item in list)
                {
                    WriteValue(w, item);
                }

                w.WriteEndArray();
                break;
            // Known shapes only: reflection-based serialization does not exist in the NativeAOT release.
            case IFormattable f: w.WriteStringValue(f.ToString(null, CultureInfo.InvariantCulture)); break;
            default: w.WriteStringValue(value.ToString()); break;
        }
    }

    public static byte[] Error(string code, string message, JsonElement? requestId = null, Action<Utf8JsonWriter>? extra = null) => Build(w =>
    {
        w.WriteStartObject();
        w.WriteString("type", "error");
        w.WriteString("code", code);
        w.WriteString("message", message);
        if (requestId is { } id)
        {
            w.WritePropertyName("request_id");
            id.WriteTo(w);
        }

        extra?.Invoke(w);
        w.WriteEndObject();
    });
}
