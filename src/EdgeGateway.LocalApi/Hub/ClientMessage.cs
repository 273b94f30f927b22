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

            try
            {
                message = Read(root);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // JsonDocument checks structure, not text: invalid UTF-8 (an HTTP body is not validated before us) or a
                // lone surrogate escape ("\ud800") in a string we read only fails when it is turned into a string.
                detail = "a string is not valid text: " + e.Message;
                return ClientMessageError.InvalidJson;
            }

            return ClientMessageError.None;
        }
    }

    private static ClientMessage Read(JsonElement root) => new()
    {
        Type = String(root, "type"),
        RequestId = Echoed(root, "request_id"),
        Channel = String(root, "channel"),
        DroneId = String(root, "drone_id"),
        MaxHz = root.TryGetProperty("max_hz", out var hz) && hz.ValueKind != JsonValueKind.Null ? hz.Clone() : null,
        Timestamp = Echoed(root, "timestamp"),
        Action = String(root, "action"),
        Parameters = root.TryGetProperty("parameters", out var p) ? p.Clone() : default,
    };

    /// <summary>A value the reply echoes back verbatim: written once here, so a value that cannot be written fails now, as bad input.</summary>
    private static JsonElement? Echoed(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return null;
        }

        using var probe = new Utf8JsonWriter(Stream.Null);
        value.WriteTo(probe);
        return value.Clone();
    }

    private static string? String(JsonElement root, string name) =>
        root.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
}
