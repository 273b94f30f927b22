using System.Text.Json;
using EdgeGateway.Sensors.Sources;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace EdgeGateway.Sensors.Api;

public static class SensorEndpoints
{
    /// <summary>
    /// <c>GET /api/sensors</c>: <c>{"sensors":[{id,type,endpoint,link,health,summary,last_reading_at,last_reading,counters}]}</c>;
    /// <c>GET /api/sensors/{id}</c>: one of those objects, or 404 <c>{"success":false,"error":"…"}</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapSensorEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/api/sensors", async (HttpContext context) =>
        {
            var registry = context.RequestServices.GetRequiredService<ISensorRegistry>();
            context.Response.ContentType = "application/json; charset=utf-8";
            await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
            writer.WriteStartObject();
            writer.WriteStartArray("sensors");
            foreach (var s in registry.Snapshot())
            {
                s.WriteTo(writer);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        });
        endpoints.MapGet("/api/sensors/{id}", async (HttpContext context, string id) =>
        {
            var registry = context.RequestServices.GetRequiredService<ISensorRegistry>();
            context.Response.ContentType = "application/json; charset=utf-8";
            if (registry.Find(id) is not { } s)
            {
                // Written by hand like the list above: no reflection (NativeAOT), and no anonymous type to describe.
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                await using (var writer = new Utf8JsonWriter(context.Response.BodyWriter))
                {
                    writer.WriteStartObject();
                    writer.WriteBoolean("success", false);
                    writer.WriteString("error", $"no sensor with id '{id}'");
                    writer.WriteEndObject();
                    await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
                }

                return;
            }

            await context.Response.Body.WriteAsync(s.ToJson(), context.RequestAborted).ConfigureAwait(false);
        });
        return endpoints;
    }
}
