using System.Globalization;
using System.Text.Json;
using EdgeGateway.Records;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeGateway.Buffer;

/// <summary><c>GET /api/buffer</c> and <c>GET /api/telemetry</c> on the local API.</summary>
public static class BufferEndpoints
{
    public const int MaxLimit = 1000;
    public const int DefaultLimit = 100;

    public static IEndpointRouteBuilder MapBufferEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/api/buffer", (HttpContext ctx) =>
        {
            var buffer = ctx.RequestServices.GetRequiredService<IRecordBuffer>();
            if (!buffer.IsReady)
            {
                return Error(503, "the record buffer is not running");
            }

            var s = buffer.GetStatus();
            return Results.Json(new BufferStatusBody(
                Success: true,
                CommittedSequence: s.CommittedSequence,
                OldestSequence: s.OldestSequence,
                Depth: s.RecordCount,
                FileBytes: s.FileBytes,
                MaxBytes: s.MaxBytes,
                IntakeQueued: s.IntakeQueued,
                IntakeDropped: s.IntakeDropped,
                Evicted: s.EvictedRecords,
                OldestUnsent: s.OldestUnsent,
                Sinks: [.. s.Sinks.Select(k => new SinkStatusBody(k.Sink, k.Cursor, k.LagSequences, k.BacklogRecords, k.OldestUnsent, k.Connected))]),
                BufferJson.Context.BufferStatusBody);
        });

        endpoints.MapGet("/api/telemetry", (HttpContext ctx) =>
        {
            var q = ctx.Request.Query;
            string? stream = null;
            if (q.TryGetValue("stream", out var sv))
            {
                stream = sv.ToString();
                if (sv.Count != 1 || string.IsNullOrWhiteSpace(stream) || stream.Length > 256)
                {
                    return Error(400, "stream must be one non-empty stream name of at most 256 characters, e.g. drone/tello-1/state");
                }
            }

            long after = 0;
            if (q.TryGetValue("after_seq", out var av) &&
                (av.Count != 1 || !long.TryParse(av.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out after)))
            {
                return Error(400, $"after_seq must be a non-negative integer (got \"{av}\")");
            }

            var limit = DefaultLimit;
            if (q.TryGetValue("limit", out var lv) &&
                (lv.Count != 1 || !int.TryParse(lv.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxLimit))
            {
                return Error(400, $"limit must be an integer 1..{MaxLimit} (got \"{lv}\")");
            }

            double sinceMs = -1;
            if (q.TryGetValue("since_ms", out var sm) &&
                (sm.Count != 1 || !double.TryParse(sm.ToString(), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out sinceMs)
                 || !double.IsFinite(sinceMs) || sinceMs > 253402300799999))
            {
                return Error(400, $"since_ms must be a non-negative number of milliseconds since 1970 (got \"{sm}\")");
            }

            var everyMs = 0;
            if (q.TryGetValue("every_ms", out var ev) &&
                (ev.Count != 1 || !int.TryParse(ev.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out everyMs) || everyMs > MaxEveryMs))
            {
                return Error(400, $"every_ms must be an integer 0..{MaxEveryMs} (got \"{ev}\")");
            }

            var buffer = ctx.RequestServices.GetRequiredService<IRecordBuffer>();
            if (!buffer.IsReady)
            {
                return Error(503, "the record buffer is not running");
            }

            if (sinceMs >= 0)
            {
                after = Math.Max(after, buffer.SequenceBefore(DateTimeOffset.FromUnixTimeMilliseconds((long)sinceMs)));
            }

            var page = ReadPage(buffer, stream, after, limit, everyMs);
            return Results.Json(new TelemetryPageBody(
                Success: true,
                Stream: stream,
                AfterSeq: after,
                Count: page.Records.Count,
                NextAfterSeq: page.LastScanned,
                More: page.More,
                Records: [.. page.Records.Select(ToJson)]),
                BufferJson.Context.TelemetryPageBody);
        });

        return endpoints;
    }

    /// <summary>Largest <c>every_ms</c>: one record per hour.</summary>
    public const int MaxEveryMs = 3_600_000;

    /// <summary>Most records one thinned request reads before it answers (with <c>more</c> set): bounds its cost.</summary>
    public const int MaxScannedPerRequest = 20_000;

    private sealed record HistoryPage(List<BufferedRecord> Records, long LastScanned, bool More);

    /// <summary>
    /// Up to <paramref name="limit"/> records after <paramref name="after"/>; with <paramref name="everyMs"/> &gt; 0, at most one
    /// record per stream in each such interval of wall-clock time (the first), reading on until the page is full,
    /// the store ends or <see cref="MaxScannedPerRequest"/> records were read. <c>LastScanned</c> is where the next page starts.
    /// </summary>
    private static HistoryPage ReadPage(IRecordBuffer buffer, string? stream, long after, int limit, int everyMs)
    {
        if (everyMs == 0)
        {
            var records = buffer.ReadHistory(stream, after, limit);
            return new HistoryPage(records as List<BufferedRecord> ?? records.ToList(), records.Count > 0 ? records[^1].Sequence : after,
                records.Count == limit);
        }

        var kept = new List<BufferedRecord>();
        var lastKept = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var interval = TimeSpan.FromMilliseconds(everyMs);
        var scanned = 0;
        var cursor = after;
        while (true)
        {
            var chunk = buffer.ReadHistory(stream, cursor, MaxLimit);
            foreach (var r in chunk)
            {
                cursor = r.Sequence;
                scanned++;
                if (lastKept.TryGetValue(r.Stream, out var last) && r.WallClock - last < interval && r.WallClock >= last)
                {
                    continue;
                }

                lastKept[r.Stream] = r.WallClock;
                kept.Add(r);
                if (kept.Count == limit)
                {
                    return new HistoryPage(kept, cursor, true);
                }
            }

            if (chunk.Count < MaxLimit)
            {
                return new HistoryPage(kept, cursor, false);
            }

            if (scanned >= MaxScannedPerRequest)
            {
                return new HistoryPage(kept, cursor, true);
            }
        }
    }

    private static TelemetryRecordBody ToJson(BufferedRecord r)
    {
        JsonElement? payload = null;
        string? raw = null;
        try
        {
            using var doc = JsonDocument.Parse(r.Payload);
            payload = doc.RootElement.Clone();
        }
        catch (JsonException)
        {
            raw = Convert.ToBase64String(r.Payload.Span);
        }

        return new TelemetryRecordBody(
            Seq: r.Sequence,
            Stream: r.Stream,
            Kind: KindName(r.Kind),
            WallClock: r.WallClock,
            TimeSource: r.TimeSource switch { TimeSource.Gps => "gps", TimeSource.Ntp => "ntp", _ => "unsynced" },
            MonotonicTs: r.MonotonicTimestamp,
            Payload: payload,
            PayloadBase64: raw);
    }

    private static string KindName(RecordKind kind) => kind switch
    {
        RecordKind.DroneState => "drone_state",
        RecordKind.SensorReading => "sensor_reading",
        RecordKind.Event => "event",
        RecordKind.CommandAudit => "command_audit",
        RecordKind.Gap => "gap",
        _ => "unknown",
    };

    private static IResult Error(int status, string message)
        => Results.Json(new BufferErrorBody(false, message), BufferJson.Context.BufferErrorBody, statusCode: status);
}
