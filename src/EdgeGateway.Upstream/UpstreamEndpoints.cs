using System.Globalization;
using System.Text.Json;
using EdgeGateway.Records;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeGateway.Upstream;

/// <summary>
/// <c>GET /api/upstream/dead-letters</c> on the local API (read-only). The composition root puts it behind the local
/// API's read access: <c>app.UseLocalApiReadAccess(..., "/api/upstream")</c> before <c>app.MapUpstreamEndpoints()</c>.
/// </summary>
public static class UpstreamEndpoints
{
    public const string DeadLettersPath = "/api/upstream/dead-letters";
    public const int MaxLimit = 1000;
    public const int DefaultLimit = 100;

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static IEndpointRouteBuilder MapUpstreamEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet(DeadLettersPath, (HttpContext ctx) =>
        {
            var q = ctx.Request.Query;
            string? sink = null;
            if (q.TryGetValue("sink", out var sv))
            {
                sink = sv.ToString();
                if (sv.Count != 1 || string.IsNullOrWhiteSpace(sink) || sink.Length > 64)
                {
                    return Error(400, "sink must be one sink name of at most 64 characters, e.g. mqtt");
                }
            }

            long after = 0;
            if (q.TryGetValue("after_id", out var av) &&
                (av.Count != 1 || !long.TryParse(av.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out after)))
            {
                return Error(400, $"after_id must be a non-negative integer (got \"{av}\")");
            }

            var limit = DefaultLimit;
            if (q.TryGetValue("limit", out var lv) &&
                (lv.Count != 1 || !int.TryParse(lv.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
            {
                return Error(400, $"limit must be an integer 1..{MaxLimit} (got \"{lv}\")");
            }

            var store = ctx.RequestServices.GetService<DeadLetterStore>();
            if (store is null)
            {
                // No MQTT sink configured: nothing can be dead-lettered, which is an answer, not an error.
                return Results.Json(new { success = true, count = 0L, evicted = 0L, max_rows = 0, entries = Array.Empty<object>() }, Json);
            }

            var entries = store.Read(sink, after, limit);
            return Results.Json(new
            {
                success = true,
                count = store.CountFor(sink),
                evicted = store.Evicted,
                max_rows = store.MaxRows,
                next_after_id = entries.Count > 0 ? entries[^1].Id : after,
                entries = entries.Select(ToJson),
            }, Json);
        });
        return endpoints;
    }

    private static object ToJson(DeadLetterEntry e)
    {
        JsonElement? payload = null;
        string? raw = null;
        try
        {
            using var doc = JsonDocument.Parse(e.Payload);
            payload = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            raw = Convert.ToBase64String(e.Payload);
        }

        return new
        {
            id = e.Id,
            sink = e.Sink,
            stream = e.Stream,
            seq = e.Sequence,
            kind = RecordJson.KindName(e.Kind),
            record_time = e.RecordTime,
            topic = e.Topic,
            reason = e.Reason,
            reason_code = e.ReasonCode,
            detail = e.Detail,
            dead_lettered_at = e.DeadLetteredAt,
            payload,
            payload_base64 = raw,
        };
    }

    private static IResult Error(int status, string message)
        => Results.Json(new { success = false, error = message }, Json, statusCode: status);
}
