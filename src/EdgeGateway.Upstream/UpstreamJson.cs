using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeGateway.Upstream;

// GET /api/upstream/dead-letters as named types for the source-generated context (no reflection: the release is NativeAOT).

internal sealed record DeadLetterPageBody(
    bool Success,
    long Count,
    long Evicted,
    int MaxRows,
    // Absent (not null) when no MQTT sink is configured, as before.
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] long? NextAfterId,
    IReadOnlyList<DeadLetterBody> Entries);

internal sealed record DeadLetterBody(
    long Id,
    string Sink,
    string Stream,
    long Seq,
    string Kind,
    DateTimeOffset RecordTime,
    string Topic,
    string Reason,
    int ReasonCode,
    string Detail,
    DateTimeOffset DeadLetteredAt,
    JsonElement? Payload,
    [property: JsonPropertyName("payload_base64")] string? PayloadBase64);

internal sealed record UpstreamErrorBody(bool Success, string Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DeadLetterPageBody))]
[JsonSerializable(typeof(UpstreamErrorBody))]
internal sealed partial class UpstreamJson : JsonSerializerContext;
