using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>What a pilot does on the console, against the real daemon and its simulated Tello.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleFlightTests(BrowserFixture browser)
{
    [Fact]
    public async Task The_page_loads_without_console_errors_and_shows_tello_1_connected_with_the_battery_the_api_reports()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync();

        await Assertions.Expect(page.TestId("link")).ToContainTextAsync("connected (fresh)");
        await Assertions.Expect(page.Page.Locator("#drone-card")).ToContainTextAsync("tello-1");
        var battery = gateway.Status().GetProperty("battery").GetInt32();
        await Assertions.Expect(page.TestId("battery")).ToHaveTextAsync($"{battery} %");
        // Every view renders without an error.
        foreach (var view in new[] { "charts", "sensors", "gateway", "events", "overview" })
        {
            await page.ShowAsync(view);
        }

        await page.Page.WaitForTimeoutAsync(500);
        Assert.Empty(page.Problems);
    }

    [Fact]
    public async Task Takeoff_clicked_on_the_page_shows_a_height_above_zero_and_land_brings_it_back_to_zero()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync();

        await page.PilotAsync("takeoff", confirm: true);

        await Assertions.Expect(page.TestId("result")).ToContainTextAsync("takeoff: ok", new() { Timeout = 60_000 });
        await TaskTimeouts.Eventually(() => page.HeightOnPageAsync().GetAwaiter().GetResult() > 0, "the page shows a height above 0", ConsoleGateway.Slow);
        Assert.True(gateway.Status().GetProperty("height_cm").GetInt32() > 0);
        await Assertions.Expect(page.TestId("flying")).ToHaveTextAsync("Flying");

        await page.PilotAsync("land");

        await Assertions.Expect(page.TestId("result")).ToContainTextAsync("land: ok", new() { Timeout = 60_000 });
        await Assertions.Expect(page.TestId("height")).ToHaveTextAsync("0 cm", new() { Timeout = 60_000 });
        await Assertions.Expect(page.TestId("flying")).ToHaveTextAsync("On the ground", new() { Timeout = 30_000 });
        Assert.Empty(page.Problems);
    }

    [Fact]
    public async Task Takeoff_waits_for_confirmation_and_cancel_sends_nothing()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync();

        await page.Page.Keyboard.PressAsync("t");
        await Assertions.Expect(page.Page.Locator("button[data-confirm=takeoff]")).ToBeVisibleAsync();
        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();
        await page.Page.WaitForTimeoutAsync(1500);

        Assert.False(gateway.Status().GetProperty("is_flying").GetBoolean());
        await Assertions.Expect(page.TestId("result")).ToHaveTextAsync("No command sent yet.");
    }

    [Fact]
    public async Task Emergency_is_one_click_away_on_every_view_while_flying_and_stops_the_motors()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var page = await gateway.OpenAsync();
        var takeoff = await gateway.ExecuteAsync("takeoff");
        Assert.True(takeoff.GetProperty("success").GetBoolean(), takeoff.ToString());

        var emergency = page.Page.Locator("#emergency");
        foreach (var view in new[] { "charts", "sensors", "gateway", "events", "overview" })
        {
            await page.ShowAsync(view);
            await Assertions.Expect(emergency).ToBeVisibleAsync();
            await Assertions.Expect(emergency).ToBeEnabledAsync();
            Assert.True(await emergency.IsVisibleAsync(), view);
        }

        await page.ShowAsync("charts");
        await emergency.ClickAsync();

        // No confirmation: the motors stop. The simulated Tello reports it in its state (on the ground, height 0).
        // The Tello does not answer emergency; the gateway reports it sent (never refused).
        await Assertions.Expect(page.Page.Locator("#emergency-reason")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^emergency: (ok|sent)$"), new() { Timeout = 30_000 });
        await TaskTimeouts.Eventually(() => gateway.Status() is var s && !s.GetProperty("is_flying").GetBoolean() && s.GetProperty("height_cm").GetInt32() == 0,
            "the simulator reports the motors stopped (not flying, height 0)", ConsoleGateway.Slow);
        await Assertions.Expect(emergency).ToBeHiddenAsync(new() { Timeout = 30_000 });
        Assert.Empty(page.Problems);
    }

    [Fact]
    public async Task A_second_pilot_sees_control_held_by_the_first_with_flight_controls_disabled()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        var first = await gateway.OpenAsync();
        var second = await gateway.OpenAsync();

        await first.PilotAsync("take_control", confirm: true);
        await Assertions.Expect(first.TestId("holder")).ToContainTextAsync("held by you");

        await Assertions.Expect(second.TestId("holder")).ToContainTextAsync("held by conn:", new() { Timeout = 30_000 });
        await Assertions.Expect(second.Page.Locator("#pilot-card button[data-action=takeoff]")).ToBeDisabledAsync();
        await Assertions.Expect(second.TestId("reason")).ToContainTextAsync("Control held by conn:");
        await Assertions.Expect(second.Page.Locator("#pilot-card button[data-action=take_control]")).ToBeDisabledAsync();
        // The holder's own panel lets them fly.
        await Assertions.Expect(first.Page.Locator("#pilot-card button[data-action=takeoff]")).ToBeEnabledAsync();
        Assert.Empty(first.Problems);
        Assert.Empty(second.Problems);
    }

    [Fact]
    public async Task An_observer_sees_pilot_controls_disabled_with_the_reason_and_a_command_from_the_console_is_refused()
    {
        // Loopback is not trusted here, so the browser is an anonymous observer.
        await using var gateway = await ConsoleGateway.StartAsync(browser, "--LocalApi:Auth:TrustedNetworks:0=192.0.2.0/24");
        var page = await gateway.OpenAsync();

        await Assertions.Expect(page.Page.Locator("#who")).ToContainTextAsync("observer");
        foreach (var action in new[] { "takeoff", "take_control", "land", "move_forward" })
        {
            await Assertions.Expect(page.Page.Locator($"#pilot-card button[data-action={action}]")).ToBeDisabledAsync();
        }

        await Assertions.Expect(page.TestId("reason")).ToContainTextAsync("observer");
        Assert.Contains("observer", await page.Page.Locator("#pilot-card button[data-action=takeoff]").GetAttributeAsync("title") ?? "", StringComparison.Ordinal);
        await Assertions.Expect(page.Page.Locator("#pilot-card button[data-action=emergency]")).ToBeDisabledAsync();

        // A shortcut does nothing, and a command sent from the console's origin with its credentials is refused by the gateway.
        await page.Page.Keyboard.PressAsync("t");
        await Assertions.Expect(page.Page.Locator("button[data-confirm=takeoff]")).ToHaveCountAsync(0);
        var status = await page.Page.EvaluateAsync<int>(
            "async () => (await fetch('/api/drone/execute', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify({action: 'takeoff'})})).status");
        Assert.Equal(403, status);
        Assert.False(gateway.Status().GetProperty("is_flying").GetBoolean());
    }
}
