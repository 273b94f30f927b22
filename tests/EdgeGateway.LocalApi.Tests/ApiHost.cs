using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>A real Kestrel on 127.0.0.1:0 with the local API mapped, over the given fleet and clock.</summary>
internal sealed class ApiHost : IAsyncDisposable
{
    public const string ObserverToken = "obs-token-1";
    public const string PilotToken = "pilot-token-1";
    public const string Pilot2Token = "pilot-token-2";
    public const string AdminToken = "admin-token-1";

    private readonly WebApplication _app;
    private int _disposed;

    private ApiHost(WebApplication app, IDroneFleet fleet, TestLoggerProvider logs)
    {
        _app = app;
        Fleet = fleet;
        Logs = logs;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public IDroneFleet Fleet { get; }

    public TestLoggerProvider Logs { get; }

    public IServiceProvider Services => _app.Services;

    public Uri WsUri(string? token = null) => new($"ws://{BaseAddress.Authority}/ws" + (token is null ? "" : "?token=" + Uri.EscapeDataString(token)));

    /// <summary>Default settings: four tokens, and no trusted network unless the test says so.</summary>
    public static Dictionary<string, string?> TokenSettings(bool trustLoopback = false) => new()
    {
        ["LocalApi:Auth:Tokens:0:Name"] = "watcher",
        ["LocalApi:Auth:Tokens:0:Role"] = "observer",
        ["LocalApi:Auth:Tokens:0:Hash"] = TokenHash.Format(ObserverToken),
        ["LocalApi:Auth:Tokens:1:Name"] = "alice",
        ["LocalApi:Auth:Tokens:1:Role"] = "pilot",
        ["LocalApi:Auth:Tokens:1:Hash"] = TokenHash.Format(PilotToken),
        ["LocalApi:Auth:Tokens:2:Name"] = "bob",
        ["LocalApi:Auth:Tokens:2:Role"] = "pilot",
        ["LocalApi:Auth:Tokens:2:Hash"] = TokenHash.Format(Pilot2Token),
        ["LocalApi:Auth:Tokens:3:Name"] = "root",
        ["LocalApi:Auth:Tokens:3:Role"] = "admin",
        ["LocalApi:Auth:Tokens:3:Hash"] = TokenHash.Format(AdminToken),
        // An empty list binds as "not set"; a CIDR nobody here uses keeps loopback untrusted.
        ["LocalApi:Auth:TrustedNetworks:0"] = trustLoopback ? "127.0.0.0/8" : "192.0.2.0/24",
    };

    public static async Task<ApiHost> StartAsync(IDroneFleet fleet, ITestOutputHelper? output = null,
        IDictionary<string, string?>? settings = null, TimeProvider? time = null, LogLevel frameworkLogLevel = LogLevel.Warning,
        Action<WebApplication>? mapBefore = null)
    {
        var logs = new TestLoggerProvider(output);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(frameworkLogLevel < LogLevel.Debug ? frameworkLogLevel : LogLevel.Debug);
        builder.Logging.AddFilter("Microsoft", frameworkLogLevel);
        if (frameworkLogLevel == LogLevel.Trace)
        {
            // As an operator's `Logging:<Provider>:LogLevel:Default=Trace` would: a provider-specific rule, which beats
            // every rule that names no provider.
            builder.Logging.AddFilter<TestLoggerProvider>(category: null, LogLevel.Trace);
        }

        builder.Logging.AddProvider(logs);
        builder.Configuration.AddInMemoryCollection(settings ?? new Dictionary<string, string?>());
        builder.Services.AddSingleton(fleet);
        if (time is not null)
        {
            builder.Services.AddSingleton(time);
        }

        builder.Services.AddLocalApi(builder.Configuration.GetSection(LocalApiOptions.SectionName));
        var app = builder.Build();
        mapBefore?.Invoke(app); // middleware and endpoints of other capabilities, as the composition root maps them
        app.MapLocalApi();
        await app.StartAsync().WithTimeout();
        return new ApiHost(app, fleet, logs);
    }

    public HttpRequestMessage Request(HttpMethod method, string path, string? token = null, object? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        if (json is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(json), Encoding.UTF8, "application/json");
        }

        return request;
    }

    /// <summary>Sends and returns status plus the body parsed as JSON (fails if the body is not JSON).</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(HttpRequestMessage request)
    {
        using var response = await Http.SendAsync(request).WithTimeout();
        var text = await response.Content.ReadAsStringAsync().WithTimeout();
        Assert.True(response.Content.Headers.ContentType?.MediaType == "application/json",
            $"expected a JSON body, got {response.Content.Headers.ContentType}: {text}");
        using var doc = JsonDocument.Parse(text);
        return (response.StatusCode, doc.RootElement.Clone());
    }

    public Task<(HttpStatusCode Status, JsonElement Body)> ExecuteAsync(string action, object? parameters = null, string? token = null, string? droneId = null)
        => SendAsync(Request(HttpMethod.Post, "/api/drone/execute", token,
            droneId is null ? new { action, parameters = parameters ?? new { } } : new { action, parameters = parameters ?? new { }, drone_id = droneId }));

    public async Task<WsClient> ConnectAsync(string? token = null, Action<ClientWebSocketOptions>? configure = null, bool expectEstablished = true)
    {
        var ws = new ClientWebSocket();
        configure?.Invoke(ws.Options);
        await ws.ConnectAsync(WsUri(token), CancellationToken.None).WithTimeout();
        var client = new WsClient(ws);
        if (expectEstablished)
        {
            var first = await client.ReceiveAsync();
            Assert.Equal("connection_established", first.GetProperty("type").GetString());
            client.Established = first;
        }

        return client;
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Http.Dispose();
        await _app.StopAsync().WithTimeout();
        await _app.DisposeAsync();
    }
}

/// <summary>A real ClientWebSocket with JSON helpers; every receive has a timeout.</summary>
internal sealed class WsClient(ClientWebSocket socket) : IDisposable
{
    public ClientWebSocket Socket { get; } = socket;

    public JsonElement Established { get; set; }

    public WebSocketCloseStatus? CloseStatus => Socket.CloseStatus;

    public Task SendAsync(object message) => SendTextAsync(JsonSerializer.Serialize(message));

    public Task SendTextAsync(string text)
        => Socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None).WithTimeout();

    /// <summary>The next text message as JSON; throws if the socket closes first.</summary>
    public async Task<JsonElement> ReceiveAsync(TimeSpan? timeout = null)
    {
        var message = await ReceiveOrCloseAsync(timeout);
        return message ?? throw new InvalidOperationException($"socket closed: {Socket.CloseStatus} {Socket.CloseStatusDescription}");
    }

    /// <summary>The next message, or null when the server closed (then <see cref="CloseStatus"/> is set).</summary>
    public async Task<JsonElement?> ReceiveOrCloseAsync(TimeSpan? timeout = null)
    {
        var buffer = new byte[64 * 1024];
        using var stream = new MemoryStream();
        while (true)
        {
            var result = await Socket.ReceiveAsync(buffer, CancellationToken.None).WithTimeout(timeout);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await AnswerCloseAsync();
                return null;
            }

            stream.Write(buffer, 0, result.Count);
            if (result.EndOfMessage)
            {
                using var doc = JsonDocument.Parse(stream.ToArray());
                return doc.RootElement.Clone();
            }
        }
    }

    /// <summary>Skips messages until one of <paramref name="type"/> (and matching <paramref name="match"/>) arrives.</summary>
    public async Task<JsonElement> ReceiveTypeAsync(string type, Func<JsonElement, bool>? match = null, TimeSpan? timeout = null)
    {
        var deadline = Deadline.In(timeout ?? TaskTimeouts.Default);
        while (true)
        {
            var left = deadline.Left;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no '{type}' message in time");
            }

            var m = await ReceiveAsync(left);
            if (m.GetProperty("type").GetString() == type && (match?.Invoke(m) ?? true))
            {
                return m;
            }
        }
    }

    /// <summary>Reads until the server's close frame and returns its status (answering the close handshake).</summary>
    public async Task<WebSocketCloseStatus?> ReceiveCloseAsync(TimeSpan? timeout = null)
    {
        var deadline = Deadline.In(timeout ?? TaskTimeouts.Default);
        var buffer = new byte[64 * 1024];
        while (Socket.State is WebSocketState.Open or WebSocketState.CloseSent)
        {
            var left = deadline.Left;
            if (left <= TimeSpan.Zero)
            {
                throw new TimeoutException("the server did not close the connection");
            }

            var r = await Socket.ReceiveAsync(buffer, CancellationToken.None).WithTimeout(left);
            if (r.MessageType == WebSocketMessageType.Close)
            {
                await AnswerCloseAsync();
                break;
            }
        }

        return Socket.CloseStatus;
    }

    // Like browsers and aiohttp: answer the server's close frame.
    private async Task AnswerCloseAsync()
    {
        if (Socket.State == WebSocketState.CloseReceived)
        {
            try
            {
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).WithTimeout();
            }
            catch (WebSocketException)
            {
                // The server already dropped the connection.
            }
        }
    }

    public void Dispose() => Socket.Dispose();
}
