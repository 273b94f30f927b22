using System.Text.Json;

namespace EdgeGateway.LocalApi.Hub;

/// <summary>Why a client's JSON (a WebSocket frame or a <c>POST /api/drone/execute</c> body) was not read.</summary>
internal enum ClientMessageError
{
    None = 0,
    /// <summary>Not JSON, nested deeper than <see cref="ClientMessageReader.MaxDepth"/>, or text JSON cannot carry.</summary>
    InvalidJson,
    /// <summary>JSON, but not an object.</summary>
    NotObject,
}

/// <summary>
/// The fields the port-3002 API reads from a client message, each as the client sent it. A string field is null
/// when absent or not a JSON string; the callers decide what a missing field means for their message type.
/// </summary>
internal sealed class ClientMessage
{
    public string? Type { get; init; }

    public JsonElement? RequestId { get; init; }

    public string? Channel { get; init; }

    public string? DroneId { get; init; }

    /// <summary><c>max_hz</c> unless absent or JSON null.</summary>
    public JsonElement? MaxHz { get; init; }

    /// <summary><c>timestamp</c>, echoed in a pong.</summary>
    public JsonElement? Timestamp { get; init; }

    public string? Action { get; init; }

    /// <summary><c>parameters</c> of any kind, or <see cref="JsonValueKind.Undefined"/> when absent.</summary>
    public JsonElement Parameters { get; init; }
}

/// <summary>
/// Reads a client message into a <see cref="ClientMessage"/>: one parser for the WebSocket vocabulary and the
/// execute body, pure, so it can be fuzzed on its own. The bytes come from the network: it answers with an error
/// and never throws on them.
/// </summary>
internal static class ClientMessageReader
{
    public const int MaxDepth = 16;

    public static ClientMessageError TryRead(ReadOnlySpan<byte> utf8, out ClientMessage? message, out string? detail)
    {
        message = null;
        detail = null;
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth });
        }
        catch (JsonException e)
        {
            detail = e.Message;
            return ClientMessageError.InvalidJson;
        }

        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return ClientMessageError.NotObject;
            }

            message = new ClientMessage
            {
                Type = String(root, "type"),
                RequestId = root.TryGetProperty("request_id", out var rid) ? rid.Clone() : null,
                Channel = String(root, "channel"),
                DroneId = String(root, "drone_id"),
                MaxHz = root.TryGetProperty("max_hz", out var hz) && hz.ValueKind != JsonValueKind.Null ? hz.Clone() : null,
                Timestamp = root.TryGetProperty("timestamp", out var ts) ? ts.Clone() : null,
                Action = String(root, "action"),
                Parameters = root.TryGetProperty("parameters", out var p) ? p.Clone() : default,
            };
            return ClientMessageError.None;
        }
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
}
