using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Playwright;

namespace EdgeGateway.Console.Tests;

/// <summary>The console across a gateway restart and with a wrong token.</summary>
[Collection(BrowserCollection.Name)]
public sealed class ConsoleResilienceTests(BrowserFixture browser)
{
    [Fact]
    public async Task A_gateway_restart_shows_the_banner_then_live_values_again_without_reload_and_charts_without_duplicated_or_missing_points()
    {
        await using var gateway = await ConsoleGateway.StartAsync(browser);
        // The page's WebSocket goes through a route the test can hold shut, like a phone whose Wi-Fi comes back later
        // than the gateway: states stored meanwhile must reach the chart from the buffer.
        var held = 0;
        var page = await gateway.OpenAsync(beforeLoad: p => p.RouteWebSocketAsync(new System.Text.RegularExpressions.Regex("/ws$"), ws =>
        {
            if (Volatile.Read(ref held) == 1)
            {
                _ = ws.CloseAsync(new() { Code = 1013, Reason = "held by the test" });
                return;
            }

            ws.ConnectToServer();
        }));
        await page.ShowAsync("charts");
        await page.Page.WaitForFunctionAsync("() => window.edgeConsole.stateTimes('tello-1').length > 10", null, new() { Timeout = 30_000 });
        await page.Page.EvaluateAsync("() => { window.__loadedOnce = true; }");

        Volatile.Write(ref held, 1);
        await gateway.StopProcessAsync();
        await Assertions.Expect(page.Page.Locator("#reconnect-banner")).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(page.Page.Locator("#reconnect-text")).ToContainTextAsync("Reconnecting in");
        var lastBeforeStop = (await page.Page.EvaluateAsync<double[]>("() => window.edgeConsole.stateTimes('tello-1')"))[^1];

        await gateway.StartProcessAsync();
        var storedAtRestart = (await StoredStateTimesAsync(gateway, lastBeforeStop)).Count;
        await TaskTimeouts.Eventually(() => StoredStateTimesAsync(gateway, lastBeforeStop).GetAwaiter().GetResult().Count >= storedAtRestart + 20,
            "the restarted gateway stores states while the page is cut off", ConsoleGateway.Slow);
        Volatile.Write(ref held, 0);
        await page.Page.Locator("#reconnect-now").ClickAsync();
        await page.WaitLiveAsync();
        await Assertions.Expect(page.Page.Locator("#reconnect-banner")).ToBeHiddenAsync();
        // The same page (no reload) gets fresh state again.
        Assert.True(await page.Page.EvaluateAsync<bool>("() => window.__loadedOnce === true"));
        await page.ShowAsync("overview");
        await Assertions.Expect(page.TestId("link")).ToContainTextAsync("connected (fresh)", new() { Timeout = 30_000 });
        await page.Page.WaitForTimeoutAsync(3000);

        var times = await page.Page.EvaluateAsync<double[]>("() => window.edgeConsole.stateTimes('tello-1')");
        var openedAt = await page.Page.EvaluateAsync<double>("() => window.edgeConsole.openedAt()");
        var stored = await StoredStateTimesAsync(gateway, times[0]);
        // No duplicate and no invented point: every point on the chart is one stored state, each a different one.
        var storedIndex = 0;
        for (var i = 0; i < times.Length; i++)
        {
            while (storedIndex < stored.Count && stored[storedIndex] < times[i] - 0.0005)
            {
                storedIndex++;
            }

            Assert.True(storedIndex < stored.Count && Math.Abs(stored[storedIndex] - times[i]) < 0.0005,
                $"chart point {i} at {times[i]:F6} is no stored state (or repeats one)");
            storedIndex++;
        }

        // Nothing missing across the restart: every state stored after the last point before the stop, up to the moment
        // the page was live again, came from the buffer (live updates are latest-wins and may skip under load; the
        // history may not).
        var gap = stored.Where(t => t > lastBeforeStop + 0.0005 && t <= openedAt - 0.2).ToList();
        Assert.NotEmpty(gap);
        foreach (var t in gap)
        {
            Assert.Contains(times, c => Math.Abs(c - t) < 0.0005);
        }

        Assert.Contains(times, t => t > openedAt); // and live again after that
        Assert.DoesNotContain(page.Problems, p => p.Contains("uncaught", StringComparison.Ordinal));
    }

    /// <summary>Wall-clock times (seconds, µs precision) of every stored state record of tello-1 from <paramref name="since"/>.</summary>
    private static async Task<List<double>> StoredStateTimesAsync(ConsoleGateway gateway, double since)
    {
        var times = new List<double>();
        var url = $"/api/telemetry?stream=drone/tello-1/state&since_ms={Math.Floor(since * 1000) - 1000}&limit=1000";
        while (true)
        {
            using var doc = JsonDocument.Parse(await gateway.Http.GetStringAsync(url));
            foreach (var r in doc.RootElement.GetProperty("records").EnumerateArray())
            {
                var wall = DateTimeOffset.Parse(r.GetProperty("wall_clock").GetString()!, CultureInfo.InvariantCulture);
                times.Add((wall - DateTimeOffset.UnixEpoch).Ticks / 10 / 1e6);
            }

            if (!doc.RootElement.GetProperty("more").GetBoolean())
            {
                return times;
            }

            url = $"/api/telemetry?stream=drone/tello-1/state&after_seq={doc.RootElement.GetProperty("next_after_seq").GetInt64()}&limit=1000";
        }
    }

    [Fact]
    public async Task A_bad_token_gives_a_clear_message_and_no_retry_storm_and_the_right_token_goes_live()
    {
        const string secret = "field-pilot-secret-7";
        var hash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
        // Nobody is trusted and anonymous clients are refused: only the token gets in.
        await using var gateway = await ConsoleGateway.StartWithTokenAsync(browser, secret, "--LocalApi:Auth:TrustedNetworks:0=192.0.2.0/24",
            "--LocalApi:Auth:AnonymousRole=none", "--LocalApi:Auth:Tokens:0:Name=alice", "--LocalApi:Auth:Tokens:0:Role=pilot",
            $"--LocalApi:Auth:Tokens:0:Hash={hash}");
        var page = await gateway.OpenAsync(waitLive: false);
        await Assertions.Expect(page.Page.Locator("#auth-message")).ToContainTextAsync("needs a token");

        var sockets = 0;
        var unauthorized = 0;
        page.Page.WebSocket += (_, _) => Interlocked.Increment(ref sockets);
        page.Page.Response += (_, r) =>
        {
            if (r.Status == 401)
            {
                Interlocked.Increment(ref unauthorized);
            }
        };
        await page.Page.Locator("#token-toggle").ClickAsync();
        await page.Page.Locator("#token-input").FillAsync("not-the-token");
        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Use token" }).ClickAsync();

        await Assertions.Expect(page.Page.Locator("#auth-message")).ToContainTextAsync("refused this token");
        await page.Page.WaitForTimeoutAsync(6000);
        Assert.True(sockets <= 1, $"{sockets} WebSocket attempts after the token was refused");
        Assert.True(unauthorized <= 2, $"{unauthorized} requests answered 401 within 6 s");
        Assert.DoesNotContain("not-the-token", page.Page.Url, StringComparison.Ordinal);

        await page.Page.Locator("#token-toggle").ClickAsync();
        await page.Page.Locator("#token-input").FillAsync(secret);
        await page.Page.GetByRole(AriaRole.Button, new() { Name = "Use token" }).ClickAsync();

        await page.WaitLiveAsync();
        await Assertions.Expect(page.Page.Locator("#who")).ToContainTextAsync("pilot");
        await Assertions.Expect(page.Page.Locator("#auth-message")).ToBeHiddenAsync();
        await Assertions.Expect(page.TestId("link")).ToContainTextAsync("connected");
        Assert.DoesNotContain(secret, page.Page.Url, StringComparison.Ordinal);
        Assert.Equal(secret, await page.Page.EvaluateAsync<string>("() => sessionStorage.getItem('edge-gateway.token')"));
        Assert.Null(await page.Page.EvaluateAsync<string?>("() => localStorage.getItem('edge-gateway.token')"));
        Assert.DoesNotContain(secret, gateway.Process.Output, StringComparison.Ordinal);

        // The token is rotated on the gateway while the page is live: its WebSocket is refused on reconnect, the page
        // says so and stops trying (one refused attempt, no storm).
        const string rotated = "rotated-secret-8";
        var rotatedHash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(rotated)));
        gateway.ReplaceArgument($"--LocalApi:Auth:Tokens:0:Hash={hash}", $"--LocalApi:Auth:Tokens:0:Hash={rotatedHash}");
        gateway.UseToken(rotated);
        await gateway.StopProcessAsync();
        var socketsBefore = Volatile.Read(ref sockets);
        await gateway.StartProcessAsync();
        await Assertions.Expect(page.Page.Locator("#auth-message")).ToContainTextAsync("refused", new() { Timeout = 60_000 });
        await page.Page.WaitForTimeoutAsync(1000); // the browser reports a socket's creation a little after the fact
        var refusedAt = Volatile.Read(ref sockets);
        await page.Page.WaitForTimeoutAsync(8000);
        Assert.Equal(refusedAt, Volatile.Read(ref sockets));
        Assert.True(refusedAt - socketsBefore <= 3, $"{refusedAt - socketsBefore} WebSocket attempts around the refusal");
        await Assertions.Expect(page.Page.Locator("#reconnect-banner")).ToBeHiddenAsync();
    }
}
