using System.Net;
using System.Net.Http.Headers;
using EdgeGateway.Tests;

namespace EdgeGateway.Console.Tests;

/// <summary>How the console's files are served: compressed, revalidated by ETag, under a strict CSP, within the size budget.</summary>
public sealed class ConsoleAssetTests : IAsyncLifetime
{
    private readonly string _dataDir = Directory.CreateTempSubdirectory("eg-console-assets-").FullName;
    private GatewayProcess _gateway = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        var args = GatewayProcess.IsolatedSimulateArgs(_dataDir, out var port, out _);
        _gateway = GatewayProcess.Start(args);
        _http = new HttpClient(new HttpClientHandler { AutomaticDecompression = DecompressionMethods.None })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        };
        try
        {
            await TaskTimeouts.Eventually(() =>
            {
                try
                {
                    return _http.GetAsync("/healthz").GetAwaiter().GetResult().StatusCode is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, () => "the daemon answers\n" + _gateway.Output, TimeSpan.FromSeconds(60));
        }
        catch
        {
            await _gateway.DisposeAsync(); // a daemon that did not come up must not outlive the test
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _gateway.DisposeAsync();
        Directory.Delete(_dataDir, recursive: true);
    }

    private async Task<HttpResponseMessage> GetAsync(string path, string? acceptEncoding = "br, gzip", string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (acceptEncoding is not null)
        {
            request.Headers.TryAddWithoutValidation("Accept-Encoding", acceptEncoding);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        return await _http.SendAsync(request);
    }

    [Fact]
    public async Task The_page_is_served_at_the_root_with_a_csp_that_allows_no_inline_script_and_nothing_from_elsewhere()
    {
        using var response = await GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var csp = string.Join(";", response.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", csp, StringComparison.Ordinal);
        Assert.Contains("default-src 'none'", csp, StringComparison.Ordinal);
        Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-inline", csp, StringComparison.Ordinal);
        Assert.DoesNotContain("unsafe-eval", csp, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        using var plain = await GetAsync("/", acceptEncoding: null);
        var html = await plain.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("https://", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("br", "br")]
    [InlineData("gzip", "gzip")]
    [InlineData("gzip;q=0, br;q=0", null)]
    [InlineData(null, null)]
    public async Task Assets_are_served_compressed_as_the_client_accepts_with_an_etag_that_revalidates(string? accept, string? expected)
    {
        using var first = await GetAsync("/console/js/app.js", accept);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(expected, first.Content.Headers.ContentEncoding.SingleOrDefault());
        var etag = first.Headers.ETag;
        Assert.NotNull(etag);
        Assert.False(etag!.IsWeak);
        Assert.Equal("no-cache", first.Headers.CacheControl?.ToString());
        Assert.Contains("Accept-Encoding", first.Headers.Vary);

        using var again = await GetAsync("/console/js/app.js", accept, etag.Tag);
        Assert.Equal(HttpStatusCode.NotModified, again.StatusCode);
        Assert.Empty(await again.Content.ReadAsByteArrayAsync());

        using var changed = await GetAsync("/console/js/app.js", accept, "\"something-else\"");
        Assert.Equal(HttpStatusCode.OK, changed.StatusCode);
    }

    [Fact]
    public async Task The_first_load_is_under_300_KB_compressed()
    {
        // Everything the page loads: the HTML, every module it imports, the styles and the icon.
        string[] files =
        [
            "/", "/console/css/console.css", "/console/vendor/uPlot.min.css", "/console/vendor/uPlot.esm.js", "/console/icon.svg",
            "/console/js/app.js", "/console/js/dom.js", "/console/js/api.js", "/console/js/live.js", "/console/js/store.js", "/console/js/series.js",
            "/console/js/views/drone.js", "/console/js/views/pilot.js", "/console/js/views/charts.js", "/console/js/views/sensors.js",
            "/console/js/views/gateway.js", "/console/js/views/events.js",
        ];
        long total = 0;
        foreach (var file in files)
        {
            using var response = await GetAsync(file);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{file}: {response.StatusCode}");
            total += (await response.Content.ReadAsByteArrayAsync()).Length;
        }

        Assert.InRange(total, 1, 300 * 1024);
    }

    [Fact]
    public async Task An_unknown_console_file_is_404_and_a_path_outside_the_console_is_not_served()
    {
        using var missing = await GetAsync("/console/js/nope.js");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        using var traversal = await GetAsync("/console/../../appsettings.json");
        Assert.NotEqual(HttpStatusCode.OK, traversal.StatusCode);
        using var encoded = await GetAsync("/console/%2e%2e/%2e%2e/appsettings.json");
        Assert.NotEqual(HttpStatusCode.OK, encoded.StatusCode);
    }

    [Fact]
    public async Task Head_answers_the_headers_without_a_body()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "/");
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Content.Headers.ContentLength > 0);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        _ = new MediaTypeHeaderValue("text/html");
    }
}
