using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using EdgeGateway.LocalApi.Auth;
using EdgeGateway.LocalApi.Commands;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>DNS rebinding: only requests that name the gateway (Host, and a browser's Origin) are served.</summary>
public sealed class HostFilterTests(ITestOutputHelper output)
{
    private readonly FakeDroneFleet _fleet = new(new FakeDroneLink("tello-1"));

    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        // Loopback trusted as pilot: the case where a rebinding page in a local browser could fly the drone.
        var settings = ApiHost.TokenSettings(trustLoopback: true);
        foreach (var (key, value) in extra)
        {
            settings["LocalApi:" + key] = value;
        }

        return settings;
    }

    private static string[] Headers(string host, string? origin = null)
        => origin is null ? [$"Host: {host}"] : [$"Host: {host}", $"Origin: {origin}"];

    [Fact]
    public async Task A_rebound_host_is_refused_with_400_and_gets_no_control()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var port = host.BaseAddress.Port;

        var (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            Headers($"evil.example:{port}", $"http://evil.example:{port}"), """{"action":"takeoff"}""");

        Assert.Equal(400, status);
        Assert.False(body!.Value.GetProperty("success").GetBoolean());
        Assert.Equal("host_not_allowed", body.Value.GetProperty("code").GetString());
        Assert.Contains("LocalApi:AllowedHosts", body.Value.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Empty(_fleet[0].Sent);
        Assert.Null(host.Services.GetRequiredService<PilotControl>().HolderOf("tello-1"));

        (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            Headers($"evil.example:{port}"), """{"action":"take_control"}""");
        Assert.Equal(400, status);
        Assert.Null(host.Services.GetRequiredService<PilotControl>().HolderOf("tello-1"));
    }

    [Fact]
    public async Task A_rebound_host_is_refused_on_the_websocket_upgrade()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var port = host.BaseAddress.Port;
        var headers = RawHttp.UpgradeHeaders($"evil.example:{port}");
        headers.Add($"Origin: http://evil.example:{port}");

        var (status, head, body) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/ws", headers);

        Assert.Equal(400, status);
        Assert.DoesNotContain("Upgrade: websocket", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("host_not_allowed", body!.Value.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Loopback_literals_localhost_and_the_machine_names_are_served()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var port = host.BaseAddress.Port;
        var machine = Dns.GetHostName();
        foreach (var name in new[] { $"127.0.0.1:{port}", $"localhost:{port}", "localhost", $"[::1]:{port}", $"{machine}:{port}", $"{machine}.local:{port}", $"LOCALHOST:{port}" })
        {
            var (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
                Headers(name, $"http://{name}"), """{"action":"get_battery"}""");
            Assert.True(status == 200, $"Host {name}: {status} {body}");
        }

        var (wsStatus, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/ws", RawHttp.UpgradeHeaders($"localhost:{port}"));
        Assert.Equal(101, wsStatus);
    }

    [Fact]
    public async Task An_address_of_one_of_the_machines_interfaces_is_served()
    {
        var own = NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address).FirstOrDefault(a => !IPAddress.IsLoopback(a) && a.AddressFamily == AddressFamily.InterNetwork);
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var port = host.BaseAddress.Port;
        var literal = own?.ToString() ?? "127.0.0.2"; // a sandbox with loopback only still has 127/8
        var (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/api/drone/status", Headers($"{literal}:{port}", $"http://{literal}:{port}"));
        Assert.Equal(200, status);

        (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/api/drone/status", Headers($"203.0.113.9:{port}"));
        Assert.Equal(400, status);
    }

    [Fact]
    public async Task A_configured_name_is_served_with_its_origin()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings(("AllowedHosts:0", "gw.field.lan")));
        var port = host.BaseAddress.Port;

        var (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            Headers($"gw.field.lan:{port}", $"http://gw.field.lan:{port}"), """{"action":"get_battery"}""");
        Assert.Equal(200, status);
        (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/ws", [.. RawHttp.UpgradeHeaders($"gw.field.lan:{port}"), $"Origin: http://gw.field.lan:{port}"]);
        Assert.Equal(101, status);
        (status, _, _) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/api/drone/status", Headers($"other.field.lan:{port}"));
        Assert.Equal(400, status);
    }

    [Fact]
    public async Task An_origin_naming_another_site_is_refused_even_when_it_matches_the_host()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var port = host.BaseAddress.Port;

        var (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "POST", "/api/drone/execute",
            Headers($"127.0.0.1:{port}", $"http://evil.example:{port}"), """{"action":"takeoff"}""");

        Assert.Equal(403, status);
        Assert.Equal("origin_not_allowed", body!.Value.GetProperty("code").GetString());
        Assert.Empty(_fleet[0].Sent);
    }

    [Fact]
    public async Task Endpoints_mapped_outside_the_local_api_pass_the_same_filter()
    {
        await using var host = await ApiHost.StartAsync(_fleet, output, Settings());
        var (status, _, body) = await RawHttp.SendAsync(host.BaseAddress, "GET", "/anything-else", Headers("evil.example"));
        Assert.Equal(400, status);
        Assert.Equal("host_not_allowed", body!.Value.GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("gw.field.lan", true)]
    [InlineData("GW.Field.Lan.", true)]
    [InlineData("evil.example", false)]
    [InlineData("gw.field.lan.evil.example", false)]
    [InlineData("10.1.2.3", true)]
    [InlineData("[fe80::1]", true)]
    [InlineData("fe80::1", true)]
    [InlineData("10.1.2.4", false)]
    [InlineData("127.0.0.1", true)]
    [InlineData("[::1]", true)]
    [InlineData("edge-pi", true)]
    [InlineData("edge-pi.local", true)]
    [InlineData("edge-pi.localdomain", false)]
    [InlineData("", false)]
    public void Host_names_are_matched_without_their_port(string name, bool allowed)
    {
        var options = new LocalApiOptions { AllowedHosts = ["gw.field.lan"] };
        var list = new HostAllowList(options, TimeProvider.System, "edge-pi",
            () => [IPAddress.Parse("10.1.2.3"), IPAddress.Parse("fe80::1%2")]);
        Assert.Equal(allowed, list.IsAllowedHostName(name));
    }

    [Fact]
    public void An_address_that_appears_later_is_found_after_the_refresh_interval()
    {
        var clock = new ManualTimeProvider();
        var addresses = new List<IPAddress>();
        var list = new HostAllowList(new LocalApiOptions(), clock, "edge-pi", () => [.. addresses]);
        addresses.Add(IPAddress.Parse("192.168.10.2"));
        Assert.False(list.IsAllowedHostName("192.168.10.2"));
        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.True(list.IsAllowedHostName("192.168.10.2"));
    }

    [Fact]
    public void A_bad_allowed_host_names_its_key()
    {
        var errors = new LocalApiOptions { AllowedHosts = ["ok.lan", "http://x.lan", "x.lan:80"] }.Validate("LocalApi").ToList();
        Assert.Contains(errors, e => e.StartsWith("LocalApi:AllowedHosts:1:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("LocalApi:AllowedHosts:2:", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.StartsWith("LocalApi:AllowedHosts:0:", StringComparison.Ordinal));
    }
}
