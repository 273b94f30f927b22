using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeGateway.Buffer;

// The bodies of GET /api/buffer and GET /api/telemetry as named types, so the source-generated BufferJson context
// serializes them (no reflection: the release is NativeAOT). Property names become snake_case through the context.

internal sealed record BufferStatusBody(
    bool Success,
    long CommittedSequence,
    long? OldestSequence,
    long Depth,
    long FileBytes,
    long MaxBytes,
    long IntakeQueued,
    long IntakeDropped,
    long Evicted,
    DateTimeOffset? OldestUnsent,
    IReadOnlyList<SinkStatusBody> Sinks);

internal sealed record SinkStatusBody(string Name, long Cursor, long Lag, long? Backlog, DateTimeOffset? OldestUnsent, bool Connected);

internal sealed record TelemetryPageBody(
    bool Success,
    string? Stream,
    long AfterSeq,
    int Count,
    long NextAfterSeq,
    bool More,
    IReadOnlyList<TelemetryRecordBody> Records);

internal sealed record TelemetryRecordBody(
    long Seq,
    string Stream,
    string Kind,
    DateTimeOffset WallClock,
    string TimeSource,
    long MonotonicTs,
    JsonElement? Payload,
    [property: JsonPropertyName("payload_base64")] string? PayloadBase64);

internal sealed record BufferErrorBody(bool Success, string Error);
