using System.Collections.Frozen;
using System.IO.Compression;
using System.Security.Cryptography;

namespace EdgeGateway.LocalApi.FieldConsole;

/// <summary>One file of the field console, with its compressed forms and their strong ETags.</summary>
internal sealed class ConsoleAsset
{
    private readonly Lazy<byte[]> _gzip;
    private readonly Lazy<byte[]> _brotli;

    public ConsoleAsset(string path, string contentType, byte[] identity)
    {
        Path = path;
        ContentType = contentType;
        Identity = identity;
        var hash = Convert.ToHexStringLower(SHA256.HashData(identity))[..20];
        ETag = $"\"{hash}\"";
        GzipETag = $"\"{hash}-gz\"";
        BrotliETag = $"\"{hash}-br\"";
        // Compressed once, on first request, at the strongest level: the files never change while the process runs.
        _gzip = new Lazy<byte[]>(() => Compress(identity, s => new GZipStream(s, CompressionLevel.SmallestSize, leaveOpen: true)));
        _brotli = new Lazy<byte[]>(() => Compress(identity, s => new BrotliStream(s, CompressionLevel.SmallestSize, leaveOpen: true)));
    }

    public string Path { get; }

    public string ContentType { get; }

    public byte[] Identity { get; }

    public string ETag { get; }

    public string GzipETag { get; }

    public string BrotliETag { get; }

    public byte[] Gzip => _gzip.Value;

    public byte[] Brotli => _brotli.Value;

    private static byte[] Compress(byte[] data, Func<Stream, Stream> wrap)
    {
        using var output = new MemoryStream();
        using (var z = wrap(output))
        {
            z.Write(data);
        }

        return output.ToArray();
    }
}

/// <summary>
/// The field console's files, embedded in this assembly (so the published single file carries them) under the
/// logical names <c>console/…</c>. Read once at start; no file system access at run time.
/// </summary>
internal sealed class ConsoleAssets
{
    private const string Prefix = "console/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
        [".ico"] = "image/x-icon",
        [".txt"] = "text/plain; charset=utf-8",
        [".webmanifest"] = "application/manifest+json",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, ConsoleAsset> _assets;

    public ConsoleAssets()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        var assets = new Dictionary<string, ConsoleAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames())
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var path = name[Prefix.Length..].Replace('\\', '/');
            if (!ContentTypes.TryGetValue(System.IO.Path.GetExtension(path), out var type))
            {
                continue; // only types the console is known to use are served
            }

            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            assets[path] = new ConsoleAsset(path, type, copy.ToArray());
        }

        _assets = assets.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The asset at a path relative to the console root (<c>index.html</c>, <c>js/app.js</c>), or null.</summary>
    public ConsoleAsset? Find(string relativePath) => _assets.GetValueOrDefault(relativePath);
}
