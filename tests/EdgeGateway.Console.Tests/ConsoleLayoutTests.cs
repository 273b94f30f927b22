using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>Phone and laptop layouts, keyboard reach and accessible names; screenshots for the docs.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleLayoutTests(BrowserFixture browser)
{
    private static readonly string[] Views = ["overview", "charts", "sensors", "gateway", "events"];

    /// <summary>Where screenshots go: <c>artifacts/console</c> in the repository (ignored by git).</summary>
    public static string ScreenshotDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeGateway.sln")))
        {
            dir = dir.Parent;
        }

        var root = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts", "console");
        Directory.CreateDirectory(root);
        return root;
    }

    [Fact]
    public async Task A_phone_viewport_has_no_horizontal_scroll_in_any_view_and_screenshots_of_phone_and_laptop_are_saved()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var phone = await gateway.OpenAsync(390, 844);
        var laptop = await gateway.OpenAsync(1366, 900);
        // Flying from the laptop, so the screenshots show a pilot's panel and an observer's.
        await laptop.PilotAsync("takeoff", confirm: true);
        await Assertions.Expect(laptop.TestId("result")).ToContainTextAsync("takeoff: ok", new() { Timeout = 60_000 });
        await phone.Page.WaitForTimeoutAsync(2500); // a few seconds of chart data

        foreach (var view in Views)
        {
            await phone.ShowAsync(view);
            await phone.Page.WaitForTimeoutAsync(300);
            var widths = await phone.Page.EvaluateAsync<int[]>("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]");
            var (scroll, client) = (widths[0], widths[1]);
            Assert.True(scroll <= client, $"view {view}: scrollWidth {scroll} > clientWidth {client} at 390 px");
        }

        var dir = ScreenshotDirectory();
        foreach (var view in new[] { "overview", "charts" })
        {
            await phone.ShowAsync(view);
            await laptop.ShowAsync(view);
            await phone.Page.WaitForTimeoutAsync(700);
            await phone.Page.ScreenshotAsync(new() { Path = Path.Combine(dir, $"console-phone-{view}.png"), FullPage = true });
            await laptop.Page.ScreenshotAsync(new() { Path = Path.Combine(dir, $"console-laptop-{view}.png"), FullPage = true });
            Assert.True(new FileInfo(Path.Combine(dir, $"console-phone-{view}.png")).Length > 10_000);
        }

        Assert.Empty(phone.Problems);
        Assert.Empty(laptop.Problems);
    }

    [Fact]
    public async Task Every_control_has_an_accessible_name_and_is_reachable_by_keyboard()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync();

        // Every button, input and select has a name a screen reader can say.
        var unnamed = await page.Page.EvaluateAsync<string[]>("""
            () => [...document.querySelectorAll('button, input, select')]
              .filter((e) => e.offsetParent !== null)
              .filter((e) => !(e.getAttribute('aria-label') || e.textContent.trim() || (e.id && document.querySelector(`label[for="${e.id}"]`)) || e.title))
              .map((e) => e.outerHTML.slice(0, 80))
            """);
        Assert.Empty(unnamed);

        // Tab reaches the pilot panel's takeoff button from the top of the page.
        var reached = false;
        for (var i = 0; i < 40 && !reached; i++)
        {
            await page.Page.Keyboard.PressAsync("Tab");
            reached = await page.Page.EvaluateAsync<bool>("() => document.activeElement?.dataset?.action === 'takeoff'");
        }

        Assert.True(reached, "Tab never reached the takeoff button");
        // Number keys switch views.
        await page.Page.Locator("body").PressAsync("2");
        await Assertions.Expect(page.Page.Locator("#view-charts")).ToBeVisibleAsync();
    }
}
