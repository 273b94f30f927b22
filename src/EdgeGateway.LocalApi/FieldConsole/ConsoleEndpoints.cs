using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace EdgeGateway.LocalApi.FieldConsole;

/// <summary>
/// Serves the field console: <c>/</c> is its page, <c>/console/…</c> its scripts and styles. The files hold no data
/// (everything the page shows comes from the API under the caller's role), so they are served to anyone who may reach
/// the port: a browser cannot send a token with a page navigation, and the page is where the user types the token.
/// </summary>
public static class ConsoleEndpoints
{
    /// <summary>
    /// No inline script or style, nothing from another origin: scripts, styles, images and fonts from this gateway only,
    /// connections to this gateway only (HTTP and its WebSocket), no framing by other sites.
    /// </summary>
    internal static string ContentSecurityPolicy(string host)
    {
        var connect = "'self'";
        if (host.Length is > 0 and < 300 && host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or ':' or '[' or ']'))
        {
            // 'self' covers ws:/wss: to the same host in current browsers; older Safari needs them spelled out.
            connect += $" ws://{host} wss://{host}";
        }

        return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; " +
               $"connect-src {connect}; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    }

    /// <summary>Maps <c>GET /</c> and <c>GET /console/{path}</c> (HEAD too).</summary>
    public static IEndpointConventionBuilder MapFieldConsole(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var assets = endpoints.ServiceProvider.GetService<ConsoleAssets>() ?? new ConsoleAssets();
        var group = endpoints.MapGroup("");
        group.MapMethods("/", [HttpMethods.Get, HttpMethods.Head], context => ServeAsync(context, assets.Find("index.html")));
        group.MapMethods("/console/{**path}", [HttpMethods.Get, HttpMethods.Head], context =>
        {
            var path = context.Request.RouteValues["path"] as string ?? "";
            return ServeAsync(context, assets.Find(path));
        });
        return group;
    }

    private static async Task ServeAsync(HttpContext context, ConsoleAsset? asset)
    {
        var response = context.Response;
        var headers = response.Headers;
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = ContentSecurityPolicy(context.Request.Host.Value ?? "");
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=(), usb=()";
        if (asset is null)
        {
            response.StatusCode = StatusCodes.Status404NotFound;
            response.ContentType = "text/plain; charset=utf-8";
            await response.WriteAsync("no such console file\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var (body, etag, encoding) = Choose(context.Request, asset);
        headers.ContentType = asset.ContentType;
        // Revalidated on every load (cheap: a 304 with no body), so a gateway update is never hidden by a cached script.
        headers.CacheControl = "no-cache";
        headers.ETag = etag;
        headers.Vary = HeaderNames.AcceptEncoding;
        if (encoding is not null)
        {
            headers.ContentEncoding = encoding;
        }

        if (Matches(context.Request.Headers.IfNoneMatch, etag))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentLength = body.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return;
        }

        await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Brotli, then gzip, then the plain bytes, by what the client accepts (q=0 refuses).</summary>
    private static (byte[] Body, string ETag, string? Encoding) Choose(HttpRequest request, ConsoleAsset asset)
    {
        var accepts = request.GetTypedHeaders().AcceptEncoding;
        if (Accepts(accepts, "br"))
        {
            return (asset.Brotli, asset.BrotliETag, "br");
        }

        if (Accepts(accepts, "gzip"))
        {
            return (asset.Gzip, asset.GzipETag, "gzip");
        }

        return (asset.Identity, asset.ETag, null);
    }

    private static bool Accepts(IList<StringWithQualityHeaderValue> accepts, string coding)
    {
        foreach (var a in accepts)
        {
            if (a.Value.Equals(coding, StringComparison.OrdinalIgnoreCase) || a.Value.Equals("*", StringComparison.Ordinal))
            {
                return a.Quality is not 0;
            }
        }

        return false;
    }

    private static bool Matches(StringValues ifNoneMatch, string etag)
    {
        foreach (var value in ifNoneMatch)
        {
            foreach (var part in (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var tag = part.StartsWith("W/", StringComparison.Ordinal) ? part[2..] : part;
                if (tag == "*" || string.Equals(tag, etag, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }
}
