using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeGateway.Buffer;

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(GapPayload))]
[JsonSerializable(typeof(StoreEventPayload))]
[JsonSerializable(typeof(BufferStatusBody))]
[JsonSerializable(typeof(TelemetryPageBody))]
[JsonSerializable(typeof(BufferErrorBody))]
internal sealed partial class BufferJson : JsonSerializerContext
{
    public static BufferJson Context { get; } = new(new JsonSerializerOptions
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    });
}
