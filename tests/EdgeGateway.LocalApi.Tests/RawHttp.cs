using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace EdgeGateway.LocalApi.Tests;

/// <summary>
/// Requests written byte for byte on a TCP socket, for headers no HTTP client would send as given (a forged Host,
/// a tab in Authorization) and for hand-made WebSocket frames.
/// </summary>
internal static class RawHttp
{
    /// <summary>Sends one request with exactly these header lines (plus Connection: close) and reads the answer.</summary>
    public static async Task<(int Status, string Head, JsonElement? Body)> SendAsync(Uri server, string method, string path,
        IEnumerable<string> headerLines, string? jsonBody = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, server.Port).WithTimeout();
        var stream = tcp.GetStream();
        var text = new StringBuilder($"{method} {path} HTTP/1.1\r\n");
        foreach (var line in headerLines)
        {
            text.Append(line).Append("\r\n");
        }

        var upgrade = headerLines.Any(l => l.StartsWith("Upgrade:", StringComparison.OrdinalIgnoreCase));
        text.Append(upgrade ? "Connection: Upgrade\r\n" : "Connection: close\r\n");
        if (jsonBody is not null)
        {
            text.Append("Content-Type: application/json\r\n");
            text.Append($"Content-Length: {Encoding.UTF8.GetByteCount(jsonBody)}\r\n");
        }

        text.Append("\r\n").Append(jsonBody);
        await stream.WriteAsync(Encoding.UTF8.GetBytes(text.ToString())).AsTask().WithTimeout();
        if (upgrade)
        {
            // The connection stays open after 101 (and after a refusal it may): read the head and any Content-Length body.
            return Parse(await ReadResponseAsync(stream));
        }

        using var all = new MemoryStream();
        await stream.CopyToAsync(all).WithTimeout();
        return Parse(Encoding.UTF8.GetString(all.ToArray()));
    }

    /// <summary>Reads one response head and its Content-Length body, byte by byte so nothing after it is consumed.</summary>
    public static async Task<string> ReadResponseAsync(Stream stream)
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (!EndsWithBlankLine(bytes))
        {
            if (await stream.ReadAsync(one).AsTask().WithTimeout() == 0)
            {
                break;
            }

            bytes.Add(one[0]);
        }

        var head = Encoding.ASCII.GetString([.. bytes]);
        var length = head.Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(l => int.Parse(l["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
        var body = new byte[length];
        await stream.ReadExactlyAsync(body).AsTask().WithTimeout();
        return head + Encoding.UTF8.GetString(body);
    }

    private static bool EndsWithBlankLine(List<byte> b)
        => b.Count >= 4 && b[^4] == '\r' && b[^3] == '\n' && b[^2] == '\r' && b[^1] == '\n';

    /// <summary>The lines of a WebSocket upgrade request for <c>/ws</c> with the given Host.</summary>
    public static List<string> UpgradeHeaders(string host) =>
    [
        $"Host: {host}", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ];

    public static (int Status, string Head, JsonElement? Body) Parse(string response)
    {
        var split = response.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var head = split < 0 ? response : response[..split];
        var body = split < 0 ? "" : response[(split + 4)..];
        var status = int.Parse(head.Split(' ', 3)[1], System.Globalization.CultureInfo.InvariantCulture);
        JsonElement? json = null;
        if (body.Length > 0 && head.Contains("application/json", StringComparison.OrdinalIgnoreCase))
        {
            using var doc = JsonDocument.Parse(body);
            json = doc.RootElement.Clone();
        }

        return (status, head, json);
    }
}
