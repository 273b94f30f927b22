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
                return Results.Json(new DeadLetterPageBody(true, 0, 0, 0, null, []), UpstreamJson.Default.DeadLetterPageBody);
            }

            var entries = store.Read(sink, after, limit);
            return Results.Json(new DeadLetterPageBody(
                Success: true,
                Count: store.CountFor(sink),
                Evicted: store.Evicted,
                MaxRows: store.MaxRows,
                NextAfterId: entries.Count > 0 ? entries[^1].Id : after,
                Entries: [.. entries.Select(ToJson)]),
                UpstreamJson.Default.DeadLetterPageBody);
        });
        return endpoints;
    }

    private static DeadLetterBody ToJson(DeadLetterEntry e)
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

        return new DeadLetterBody(
            Id: e.Id,
            Sink: e.Sink,
            Stream: e.Stream,
            Seq: e.Sequence,
            Kind: RecordJson.KindName(e.Kind),
            RecordTime: e.RecordTime,
            Topic: e.Topic,
            Reason: e.Reason,
            ReasonCode: e.ReasonCode,
            Detail: e.Detail,
            DeadLetteredAt: e.DeadLetteredAt,
            Payload: payload,
            PayloadBase64: raw);
    }

    private static IResult Error(int status, string message)
        => Results.Json(new UpstreamErrorBody(false, message), UpstreamJson.Default.UpstreamErrorBody, statusCode: status);
}
