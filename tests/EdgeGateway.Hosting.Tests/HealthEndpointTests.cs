using System.Net;
using System.Text.Json;
using EdgeGateway.Health;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

public sealed class HealthEndpointTests(ITestOutputHelper output)
{
    private sealed class FixedReporter(params ComponentHealth[] components) : IHealthReporter
    {
        public IEnumerable<ComponentHealth> Report() => components;
    }

    private sealed class BrokenReporter : IHealthReporter
    {
        public IEnumerable<ComponentHealth> Report() => throw new InvalidOperationException("boom");
    }

    private async Task<(HttpStatusCode Status, JsonElement Body, GatewayTestServer Server)> Get(params IHealthReporter[] reporters)
    {
        var server = await GatewayTestServer.Start(output, services =>
        {
            foreach (var reporter in reporters)
            {
                services.AddSingleton(reporter);
            }
        });
        using var response = await server.Client.GetAsync("/healthz").WithTimeout();
        Assert.Equal("application/json; charset=utf-8", response.Content.Headers.ContentType!.ToString());
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync().WithTimeout()).RootElement.Clone();
        return (response.StatusCode, body, server);
    }

    private sealed class WithheldDetail : IHealthDetailAccessFeature
    {
        public bool IncludeDetails => false;
    }

    // What the local API's access check does for a client without the detail role.
    private sealed class WithholdDetailFilter : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> Configure(Action<Microsoft.AspNetCore.Builder.IApplicationBuilder> next) => app =>
        {
            Microsoft.AspNetCore.Builder.UseExtensions.Use(app, (context, nextMiddleware) =>
            {
                context.Features.Set<IHealthDetailAccessFeature>(new WithheldDetail());
                return nextMiddleware(context);
            });
            next(app);
        };
    }

    [Fact]
    public async Task Without_detail_access_only_the_overall_status_is_written_with_the_same_code()
    {
        var server = await GatewayTestServer.Start(output, services =>
        {
            services.AddSingleton<IHealthReporter>(new FixedReporter(new ComponentHealth("drone:tello", HealthState.Unhealthy, "lost",
                new Dictionary<string, object?> { ["address"] = "192.168.10.1:8889" })));
            services.AddTransient<Microsoft.AspNetCore.Hosting.IStartupFilter, WithholdDetailFilter>();
        });
        await using var _ = server;
        using var response = await server.Client.GetAsync("/healthz").WithTimeout();
        var text = await response.Content.ReadAsStringAsync().WithTimeout();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("""{"status":"unhealthy"}""", text);
    }

    [Fact]
    public async Task All_healthy_components_answer_200_healthy_with_snake_case_details()
    {
        var (status, body, server) = await Get(
            new FixedReporter(new ComponentHealth("drone:tello", HealthState.Healthy, "state 10 Hz",
                new Dictionary<string, object?> { ["lastStateAge"] = TimeSpan.FromMilliseconds(1500), ["batteryPercent"] = 87, ["ssid"] = "TELLO-\"x\"", ["nothing"] = null })),
            new FixedReporter(new ComponentHealth("buffer", HealthState.Healthy, "ok")));
        await using var _ = server;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        var components = body.GetProperty("components").EnumerateArray().ToList();
        Assert.Equal(2, components.Count);
        var drone = components[0];
        Assert.Equal("drone:tello", drone.GetProperty("component").GetString());
        Assert.Equal("healthy", drone.GetProperty("state").GetString());
        Assert.Equal("state 10 Hz", drone.GetProperty("summary").GetString());
        var details = drone.GetProperty("details");
        Assert.Equal(1.5, details.GetProperty("last_state_age").GetDouble());
        Assert.Equal(87, details.GetProperty("battery_percent").GetInt32());
        Assert.Equal("TELLO-\"x\"", details.GetProperty("ssid").GetString());
        Assert.Equal(JsonValueKind.Null, details.GetProperty("nothing").ValueKind);
        Assert.Equal(JsonValueKind.Object, components[1].GetProperty("details").ValueKind);
        server.Logs.AssertNoUnexpectedErrors();
    }

    [Fact]
    public async Task A_degraded_component_makes_the_gateway_degraded_but_still_200()
    {
        var (status, body, server) = await Get(
            new FixedReporter(new ComponentHealth("buffer", HealthState.Healthy, "ok")),
            new FixedReporter(new ComponentHealth("upstream", HealthState.Degraded, "offline 12 s; 340 records queued")));
        await using var _ = server;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("degraded", body.GetProperty("status").GetString());
        Assert.Equal("degraded", body.GetProperty("components")[1].GetProperty("state").GetString());
    }

    [Fact]
    public async Task An_unhealthy_component_answers_503_unhealthy()
    {
        var (status, body, server) = await Get(
            new FixedReporter(new ComponentHealth("upstream", HealthState.Degraded, "offline")),
            new FixedReporter(new ComponentHealth("drone:tello", HealthState.Unhealthy, "no state for 30 s")));
        await using var _ = server;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("unhealthy", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task A_reporter_that_throws_is_an_unhealthy_component_and_is_logged()
    {
        var (status, body, server) = await Get(new FixedReporter(new ComponentHealth("buffer", HealthState.Healthy, "ok")), new BrokenReporter());
        await using var _ = server;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var broken = body.GetProperty("components")[1];
        Assert.Equal("BrokenReporter", broken.GetProperty("component").GetString());
        Assert.Equal("unhealthy", broken.GetProperty("state").GetString());
        Assert.Contains(server.Logs.Entries, e => e.Id.Id == 3020 && e.Error is InvalidOperationException);
    }

    [Fact]
    public async Task No_reporters_is_healthy_with_no_components()
    {
        var (status, body, server) = await Get();
        await using var _ = server;
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("healthy", body.GetProperty("status").GetString());
        Assert.Equal(0, body.GetProperty("components").GetArrayLength());
    }
}
