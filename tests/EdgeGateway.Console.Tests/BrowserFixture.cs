using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>
/// One headless Chromium for the browser tests: Debian's, driven by Playwright (which cannot download its own
/// browsers here). <c>EDGE_CHROMIUM</c> may name the executable; otherwise Debian's paths are tried. A missing
/// browser fails the tests with the install command: a browser test never skips.
/// </summary>
public sealed class BrowserFixture : IAsyncLifetime
{
    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The binary itself, not Debian's shell wrapper (<c>/usr/bin/chromium</c>), which Playwright cannot drive cleanly.</summary>
    public static string FindChromium()
    {
        var configured = Environment.GetEnvironmentVariable("EDGE_CHROMIUM");
        string[] candidates = string.IsNullOrEmpty(configured)
            ? ["/usr/lib/chromium/chromium", "/usr/bin/chromium"]
            : [configured];
        return candidates.FirstOrDefault(File.Exists)
               ?? throw new InvalidOperationException(
                   "Chromium is needed for the console tests: apt-get install -y chromium (or set EDGE_CHROMIUM to its executable)");
    }

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = FindChromium(),
            Headless = true,
            // The test machine runs as root and has no outside network: no sandbox, no background fetches.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    /// <summary>Browser tests run one at a time: each drives a daemon and a browser on a 2-core machine.</summary>
    public const string Name = "browser";
}
