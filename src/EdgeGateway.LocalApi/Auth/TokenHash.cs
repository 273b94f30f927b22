using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace EdgeGateway.LocalApi.Auth;

/// <summary>SHA-256 of a token; configuration holds only these, as <c>sha256:hex</c>. The composition root may expose <see cref="Format"/> as a command.</summary>
public static class TokenHash
{
    public const string Prefix = "sha256:";

    internal static bool TryParse(string? text, [NotNullWhen(true)] out byte[]? hash)
    {
        hash = null;
        if (text is null || !text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase) || text.Length != Prefix.Length + 64)
        {
            return false;
        }

        try
        {
            hash = Convert.FromHexString(text.AsSpan(Prefix.Length));
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    internal static byte[] Of(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The configuration value for a token: <c>sha256:</c> and the lower-case hex SHA-256 of its UTF-8 bytes.</summary>
    public static string Format(string token) => Prefix + Convert.ToHexStringLower(Of(token));
}

/// <summary>Reads the optional token file: <c>name role secret</c> per line, <c>#</c> comments.</summary>
internal static class TokenFileReader
{
    public static IEnumerable<string> Check(string path, string key)
    {
        if (!File.Exists(path))
        {
            yield return $"{key}: file not found (\"{path}\")";
            yield break;
        }

        if (!OperatingSystem.IsWindows())
        {
            var mode = File.GetUnixFileMode(path);
            if ((mode & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            {
                yield return $"{key}: must be readable by the service user only (chmod 600 \"{path}\")";
            }
        }

        var lineNo = 0;
        foreach (var line in SafeReadLines(path))
        {
            lineNo++;
            if (line is null)
            {
                yield return $"{key}: cannot be read";
                yield break;
            }

            if (!TryParseLine(line, out _, out var error) && error is not null)
            {
                yield return $"{key}: line {lineNo}: {error}";
            }
        }
    }

    public static List<(string Name, ClientRole Role, byte[] Hash)> Read(string path)
    {
        var result = new List<(string, ClientRole, byte[])>();
        foreach (var line in File.ReadLines(path))
        {
            if (TryParseLine(line, out var entry, out _))
            {
                result.Add(entry);
            }
        }

        return result;
    }

    private static IEnumerable<string?> SafeReadLines(string path)
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [null];
        }

        return lines;
    }

    // error null and false: a blank or comment line.
    private static bool TryParseLine(string line, out (string Name, ClientRole Role, byte[] Hash) entry, out string? error)
    {
        entry = default;
        error = null;
        var trimmed = line.Trim();
        if (trimmed.Length == 0 || trimmed.StartsWith('#'))
        {
            return false;
        }

        var parts = trimmed.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3)
        {
            error = "must be: name role secret (secret is the token or sha256:hex)";
            return false;
        }

        if (!RoleNames.TryParse(parts[1], out var role))
        {
            error = "role must be observer, pilot or admin";
            return false;
        }

        var hash = parts[2].StartsWith(TokenHash.Prefix, StringComparison.OrdinalIgnoreCase)
            ? (TokenHash.TryParse(parts[2], out var h) ? h : null)
            : TokenHash.Of(parts[2]);
        if (hash is null)
        {
            error = "sha256: must be followed by 64 hex digits";
            return false;
        }

        entry = (parts[0], role.Value, hash);
        return true;
    }
}
