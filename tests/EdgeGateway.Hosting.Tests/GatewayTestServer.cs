using System.Net;
using EdgeGateway.Hosting.Systemd;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.Hosting.Tests;

/// <summary>A real Kestrel on 127.0.0.1:0 with the hosting services and endpoints, as the composition root wires them.</summary>
internal sealed class GatewayTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GatewayTestServer(WebApplication app, TestLoggerProvider logs, Uri address)
    {
        _app = app;
        Logs = logs;
        Client = new HttpClient { BaseAddress = address, Timeout = TaskTimeouts.Default };
    }

    public HttpClient Client { get; }

    public TestLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    public static async Task<GatewayTestServer> Start(ITestOutputHelper output, Action<IServiceCollection>? services = null,
        Dictionary<string, string?>? settings = null)
    {
        var logs = new TestLoggerProvider(output);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration.AddInMemoryCollection(settings ?? []);
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Debug);
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        // Not under systemd in these tests, whatever the environment of the test run says.
        builder.Services.AddSingleton(new SystemdEnvironment(null, null, null, false));
        services?.Invoke(builder.Services);
        builder.Services.AddGatewayHosting(builder.Configuration.GetSection(HostingOptions.SectionName));
        var app = builder.Build();
        app.MapGatewayHostingEndpoints();
        await app.StartAsync().WithTimeout();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new GatewayTestServer(app, logs, new Uri(address));
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync().WithTimeout();
        await _app.DisposeAsync();
    }
}
