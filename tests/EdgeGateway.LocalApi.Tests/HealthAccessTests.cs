using System.Net;
using EdgeGateway.Health;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>/healthz detail and /metrics by role, in front of stand-ins for the hosting capability's endpoints.</summary>
public sealed class HealthAccessTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private Task<ApiHost> StartAsync(bool trustLoopback, params (string Key, string Value)[] extra)
    {
        var settings = ApiHost.TokenSettings(trustLoopback);
        foreach (var (key, value) in extra)
        {
            settings["LocalApi:" + key] = value;
        }

        return ApiHost.StartAsync(_fleet, output, settings, mapBefore: app =>
        {
            app.UseLocalApiHealthAccess();
            // Stand-ins: /healthz says whether it was allowed the detail, /metrics answers 200.
            app.MapGet("/healthz", (HttpContext c) => Results.Json(new
            {
                status = "healthy",
                details = c.Features.Get<IHealthDetailAccessFeature>()?.IncludeDetails,
            }));
            app.MapGet("/metrics", () => Results.Text("edge_up 1\n"));
        });
    }

    private static async Task<(HttpStatusCode Status, bool? Details)> HealthAsync(ApiHost host, string? token)
    {
        var (status, body) = await host.SendAsync(host.Request(HttpMethod.Get, "/healthz", token));
        return (status, body.TryGetProperty("details", out var d) && d.ValueKind is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False
            ? d.GetBoolean() : null);
    }

    private static async Task<HttpStatusCode> MetricsAsync(ApiHost host, string? token)
    {
        using var response = await host.Http.SendAsync(host.Request(HttpMethod.Get, "/metrics", token)).WithTimeout();
        return response.StatusCode;
    }

    [Fact]
    public async Task By_default_anonymous_clients_get_no_health_detail_and_tokens_and_loopback_do()
    {
        await using (var untrusted = await StartAsync(trustLoopback: false))
        {
            Assert.Equal((HttpStatusCode.OK, false), await HealthAsync(untrusted, null));
            Assert.Equal((HttpStatusCode.OK, true), await HealthAsync(untrusted, ApiHost.ObserverToken));
            Assert.Equal(HttpStatusCode.Unauthorized, (await HealthAsync(untrusted, "not-a-token")).Status);
            Assert.Equal(HttpStatusCode.OK, await MetricsAsync(untrusted, null)); // anonymous observer, MetricsRole observer
        }

        await using var trusted = await StartAsync(trustLoopback: true);
        Assert.Equal((HttpStatusCode.OK, true), await HealthAsync(trusted, null));
        Assert.Equal(HttpStatusCode.OK, await MetricsAsync(trusted, null));
    }

    [Fact]
    public async Task With_anonymous_role_none_metrics_need_a_token_and_health_gives_only_the_status()
    {
        await using var host = await StartAsync(trustLoopback: false, ("Auth:AnonymousRole", "none"));
        Assert.Equal(HttpStatusCode.Unauthorized, await MetricsAsync(host, null));
        Assert.Equal(HttpStatusCode.OK, await MetricsAsync(host, ApiHost.ObserverToken));
        Assert.Equal((HttpStatusCode.OK, false), await HealthAsync(host, null));
    }

    [Fact]
    public async Task Higher_configured_roles_refuse_lower_tokens()
    {
        await using var host = await StartAsync(trustLoopback: false, ("Auth:MetricsRole", "pilot"), ("Auth:HealthDetailRole", "admin"));
        Assert.Equal(HttpStatusCode.Unauthorized, await MetricsAsync(host, null));
        Assert.Equal(HttpStatusCode.Forbidden, await MetricsAsync(host, ApiHost.ObserverToken));
        Assert.Equal(HttpStatusCode.OK, await MetricsAsync(host, ApiHost.PilotToken));
        Assert.Equal((HttpStatusCode.OK, false), await HealthAsync(host, ApiHost.PilotToken));
        Assert.Equal((HttpStatusCode.OK, true), await HealthAsync(host, ApiHost.AdminToken));
    }

    [Fact]
    public void A_bad_role_name_is_reported_with_its_key()
    {
        var errors = new LocalApiOptions { Auth = { HealthDetailRole = "boss", MetricsRole = "" } }.Validate("LocalApi").ToList();
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:HealthDetailRole:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:Auth:MetricsRole:", StringComparison.Ordinal));
    }
}
