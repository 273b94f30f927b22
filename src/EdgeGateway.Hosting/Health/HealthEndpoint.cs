using System.Globalization;
using System.Text.Json;
using EdgeGateway.Health;
using EdgeGateway.Hosting.Systemd;
using Microsoft.AspNetCore.Http;

namespace EdgeGateway.Hosting.Health;

/// <summary>
/// /healthz: <c>{"status":"healthy|degraded|unhealthy","components":[{"component","state","summary","details"}]}</c>,
/// HTTP 200 unless unhealthy (503). Detail keys are written in snake_case. When the request carries an
/// <see cref="IHealthDetailAccessFeature"/> that withholds detail, only <c>{"status":...}</c> is written (same code).
/// Without that feature (no access layer in front, as in this project's own tests) the detail is written.
/// </summary>
internal static class HealthEndpoint
{
    public static async Task Handle(HttpContext context, HealthAggregator health)
    {
        var snapshot = health.Collect();
        context.Response.StatusCode = snapshot.Status == HealthState.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-store";
        using var buffer = new MemoryStream();
        await using (var json = new Utf8JsonWriter(buffer))
        {
            if (context.Features.Get<IHealthDetailAccessFeature>() is { IncludeDetails: false })
            {
                json.WriteStartObject();
                json.WriteString("status", HealthStatusLineProvider.StateName(snapshot.Status));
                json.WriteEndObject();
            }
            else
            {
                Write(json, snapshot);
            }
        }

        context.Response.ContentLength = buffer.Length;
        await context.Response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
    }

    internal static void Write(Utf8JsonWriter json, HealthSnapshot snapshot)
    {
        json.WriteStartObject();
        json.WriteString("status", HealthStatusLineProvider.StateName(snapshot.Status));
        json.WriteStartArray("components");
        foreach (var component in snapshot.Components)
        {
            json.WriteStartObject();
            json.WriteString("component", component.Component);
            json.WriteString("state", HealthStatusLineProvider.StateName(component.State));
            json.WriteString("summary", component.Summary);
            json.WriteStartObject("details");
            if (component.Details is not null)
            {
                foreach (var (key, value) in component.Details)
                {
                    json.WritePropertyName(JsonNamingPolicy.SnakeCaseLower.ConvertName(key));
                    WriteValue(json, value);
                }
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    // Known shapes only, no reflection: the single-file release may be trimmed.
    private static void WriteValue(Utf8JsonWriter json, object? value)
    {
        switch (value)
        {
            case null: json.WriteNullValue(); break;
            case string s: json.WriteStringValue(s); break;
            case bool b: json.WriteBooleanValue(b); break;
            case int i: json.WriteNumberValue(i); break;
            case long l: json.WriteNumberValue(l); break;
            case uint u: json.WriteNumberValue(u); break;
            case ulong u: json.WriteNumberValue(u); break;
            case short s: json.WriteNumberValue(s); break;
            case byte b: json.WriteNumberValue(b); break;
            case decimal d: json.WriteNumberValue(d); break;
            case double d when double.IsFinite(d): json.WriteNumberValue(d); break;
            case float f when float.IsFinite(f): json.WriteNumberValue(f); break;
            case double or float: json.WriteNullValue(); break;
            case DateTimeOffset t: json.WriteStringValue(t); break;
            case DateTime t: json.WriteStringValue(t); break;
            case TimeSpan t: json.WriteNumberValue(Math.Round(t.TotalSeconds, 3)); break;
            case Enum e: json.WriteStringValue(JsonNamingPolicy.SnakeCaseLower.ConvertName(e.ToString())); break;
            case IFormattable f: json.WriteStringValue(f.ToString(null, CultureInfo.InvariantCulture)); break;
            default: json.WriteStringValue(value.ToString()); break;
        }
    }
}
