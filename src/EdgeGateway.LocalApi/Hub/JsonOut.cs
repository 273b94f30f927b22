using System.Buffers;
using System.Text.Json;

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
            case double d when double.IsFinite(d): w.WriteNumberValue(d); break;
            case double: w.WriteNullValue(); break;
            case JsonElement e: e.WriteTo(w); break;
            case IReadOnlyDictionary<string, object?> dict:
                w.WriteStartObject();
                foreach (var (k, v) in dict)
                {
                    WriteValue(w, k, v);
                }

                w.WriteEndObject();
                break;
            default: JsonSerializer.Serialize(w, value, value.GetType()); break;
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
