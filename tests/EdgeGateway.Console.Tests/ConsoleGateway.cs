using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using EdgeGateway.Tests;
using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>
/// A real daemon on its simulator (isolated ports and data directory) and pages open on its console, each page
/// recording the browser console's errors and failed requests so a test can assert there were none.
/// </summary>
internal sealed class ConsoleGateway : IAsyncDisposable
{
    public static readonly TimeSpan Slow = TimeSpan.FromSeconds(60);

    private readonly BrowserFixture _browser;
    private readonly List<string> _args;
    private readonly List<IBrowserContext> _contexts = [];
    private readonly string _dataDir;

    private ConsoleGateway(BrowserFixture browser, List<string> args, string dataDir, int port)
    {
        _browser = browser;
        _args = args;
        _dataDir = dataDir;
        Port = port;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }

    public string Url => $"http://127.0.0.1:{Port}/";

    public HttpClient Http { get; }

    public GatewayProcess Process { get; private set; } = null!;

    /// <summary>Changes one command-line argument for the next <see cref="StartProcessAsync"/> (e.g. a rotated token).</summary>
    public void ReplaceArgument(string old, string replacement)
    {
        var i = _args.IndexOf(old);
        Assert.True(i >= 0, $"argument {old} not found");
        _args[i] = replacement;
    }

    public void UseToken(string token)
        => Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);

    public static Task<ConsoleGateway> StartAsync(BrowserFixture browser, params string[] extraArgs) => StartWithTokenAsync(browser, null, extraArgs);

    /// <param name="token">The token the test's own HTTP client sends (for a gateway that refuses anonymous clients).</param>
    public static async Task<ConsoleGateway> StartWithTokenAsync(BrowserFixture browser, string? token, params string[] extraArgs)
    {
        var dataDir = Directory.CreateTempSubdirectory("eg-console-").FullName;
        var args = GatewayProcess.IsolatedSimulateArgs(dataDir, out var port, out _);
        args.AddRange(extraArgs);
        var gateway = new ConsoleGateway(browser, args, dataDir, port);
        if (token is not null)
        {
            gateway.Http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        }

        try
        {
            await gateway.StartProcessAsync();
        }
        catch
        {
            // A daemon that did not come up must not outlive the test.
            await gateway.DisposeAsync();
            throw;
        }

        return gateway;
    }

    public async Task StartProcessAsync()
    {
        Process = GatewayProcess.Start(_args);
        await TaskTimeouts.Eventually(() => TryStatus() is { } s && s.GetProperty("connected").GetBoolean(),
            () => "the daemon serves a connected simulated drone\n" + Process.Output, Slow);
    }

    public async Task StopProcessAsync()
    {
        Process.Signal(GatewayProcess.SigTerm);
        var exit = await Process.WaitForExitAsync();
        await Process.DisposeAsync();
        Process = null!;
        Assert.Equal(0, exit);
    }

    public JsonElement? TryStatus()
    {
        try
        {
            using var response = Http.GetAsync("/api/drone/status").GetAwaiter().GetResult();
            return response.StatusCode == HttpStatusCode.OK
                ? JsonDocument.Parse(response.Content.ReadAsStringAsync().GetAwaiter().GetResult()).RootElement.Clone()
                : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public JsonElement Status() => TryStatus() ?? throw new InvalidOperationException("no status from the daemon\n" + Process.Output);

    public async Task<JsonElement> ExecuteAsync(string action, object? parameters = null)
    {
        using var response = await Http.PostAsJsonAsync("/api/drone/execute", new { action, parameters = parameters ?? new { } });
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    /// <summary>A new browser context (its own storage, so its own token and WebSocket identity) with the console open.</summary>
    public async Task<ConsolePage> OpenAsync(int width = 1280, int height = 900, string view = "overview", bool waitLive = true,
        Func<IPage, Task>? beforeLoad = null)
    {
        var context = await _browser.Browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = width, Height = height } });
        context.SetDefaultTimeout(30_000);
        _contexts.Add(context);
        var page = new ConsolePage(await context.NewPageAsync());
        if (beforeLoad is not null)
        {
            await beforeLoad(page.Page);
        }

        await page.Page.GotoAsync(Url + "#" + view);
        if (waitLive)
        {
            await page.WaitLiveAsync();
        }

        return page;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var c in _contexts)
        {
            await c.CloseAsync();
        }

        if (Process is not null)
        {
            await Process.DisposeAsync();
            Process = null!;
        }

        Http.Dispose();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One console tab, with what its browser console reported.</summary>
internal sealed class ConsolePage
{
    private readonly List<string> _problems = [];
    private readonly Lock _gate = new();

    public ConsolePage(IPage page)
    {
        Page = page;
        page.Console += (_, m) =>
        {
            if (m.Type is "error" or "warning")
            {
                Add($"console {m.Type}: {m.Text}");
            }
        };
        page.PageError += (_, e) => Add("uncaught: " + e);
        page.RequestFailed += (_, r) => Add($"request failed: {r.Method} {r.Url} {r.Failure}");
    }

    public IPage Page { get; }

    /// <summary>Errors and warnings from the page so far (script errors, CSP violations, failed loads).</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_gate)
            {
                return _problems.ToList();
            }
        }
    }

    private void Add(string problem)
    {
        lock (_gate)
        {
            _problems.Add(problem);
        }
    }

    public ILocator TestId(string id) => Page.Locator($"[data-testid={id}]").First;

    public Task WaitLiveAsync() => Assertions.Expect(Page.Locator("#conn")).ToHaveTextAsync("live", new() { Timeout = 30_000 });

    public async Task ShowAsync(string view)
    {
        await Page.Locator($".tab[data-view={view}]").ClickAsync();
        await Assertions.Expect(Page.Locator($"#view-{view}")).ToBeVisibleAsync();
    }

    /// <summary>Clicks an action in the pilot panel and, when it asks, confirms it.</summary>
    public async Task PilotAsync(string action, bool confirm = false)
    {
        await Page.Locator($"#pilot-card button[data-action={action}]").ClickAsync();
        if (confirm)
        {
            await Page.Locator($"button[data-confirm={action}]").ClickAsync();
        }
    }

    public async Task<int> HeightOnPageAsync()
    {
        var text = await TestId("height").InnerTextAsync();
        return int.TryParse(text.Split(' ')[0], out var v) ? v : -1;
    }
}
