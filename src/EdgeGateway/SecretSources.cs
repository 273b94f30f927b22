using EdgeGateway.CommandLine;
using EdgeGateway.Upstream;
using Microsoft.Extensions.Configuration;

namespace EdgeGateway;

/// <summary>
/// Secrets that stay off the command line (where any local user reads them in <c>/proc/PID/cmdline</c>): files named by
/// <c>*File</c> keys, and systemd credentials (<c>LoadCredential=</c> / <c>SetCredentialEncrypted=</c>) found in
/// <c>$CREDENTIALS_DIRECTORY</c>. Also finds the secrets that were given on the command line anyway, by name only.
/// </summary>
internal static class SecretSources
{
    public const string CredentialsDirectoryVariable = "CREDENTIALS_DIRECTORY";

    /// <summary>Credential file name, the <c>*File</c> key it stands in for, and the key that receives the secret.</summary>
    internal static readonly (string Credential, string FileKey, string ValueKey)[] Secrets =
    [
        ("upstream-password", "Upstream:Mqtt:PasswordFile", "Upstream:Mqtt:Password"),
        ("upstream-token", "Upstream:Relay:TokenFile", "Upstream:Relay:Token"),
    ];

    /// <summary>The credential that, when present, is the local API's token file (unless one is configured).</summary>
    public const string TokenFileCredential = "local-api-tokens";

    public const string TokenFileKey = "LocalApi:Auth:TokenFile";

    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite;

    /// <summary>Key/value pairs to add on top of <paramref name="configuration"/>; one problem per bad file (never its content).</summary>
    public static Dictionary<string, string?> Resolve(IConfiguration configuration, Func<string, string?> environment, List<string> problems)
    {
        var keys = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var credentials = environment(CredentialsDirectoryVariable);
        foreach (var (credential, fileKey, valueKey) in Secrets)
        {
            var file = configuration[fileKey];
            var fromCredentials = false;
            if (string.IsNullOrEmpty(file) && CredentialPath(credentials, credential) is { } path)
            {
                file = path;
                fromCredentials = true;
            }

            if (string.IsNullOrEmpty(file))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(configuration[valueKey]))
            {
                // A value set explicitly wins over a credential; with an explicit *File key it is ambiguous.
                if (!fromCredentials)
                {
                    problems.Add($"{fileKey}: {valueKey} is set too; keep only the file");
                }

                continue;
            }

            var where = fromCredentials ? $"${CredentialsDirectoryVariable}/{credential}" : fileKey;
            if (ReadSecret(file, where, problems) is { } secret)
            {
                keys[valueKey] = secret;
            }
        }

        if (string.IsNullOrEmpty(configuration[TokenFileKey]) && CredentialPath(credentials, TokenFileCredential) is { } tokens)
        {
            keys[TokenFileKey] = tokens;
        }

        return keys;
    }

    /// <summary>
    /// Where a secret was given on the command line (an <c>--upstream</c> URL with credentials, shown redacted, or a
    /// <c>--Section:Password=</c>-style key, named only), for the start-up warning.
    /// </summary>
    public static IReadOnlyList<string> OnCommandLine(GatewayCommandLine commandLine)
    {
        var found = new List<string>();
        foreach (var url in commandLine.Upstreams)
        {
            if (UpstreamUrl.HasSecret(url))
            {
                found.Add("--upstream " + UpstreamUrl.Redact(url));
            }
        }

        foreach (var arg in commandLine.Rest)
        {
            var key = arg.TrimStart('-', '/');
            var equals = key.IndexOf('=', StringComparison.Ordinal);
            key = (equals >= 0 ? key[..equals] : key).Replace("__", ":", StringComparison.Ordinal);
            if (key.EndsWith(":Password", StringComparison.OrdinalIgnoreCase) || key.EndsWith(":Token", StringComparison.OrdinalIgnoreCase)
                || key.EndsWith(":Secret", StringComparison.OrdinalIgnoreCase))
            {
                found.Add("--" + key);
            }
        }

        return found;
    }

    private static string? CredentialPath(string? directory, string name)
    {
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        var path = Path.Combine(directory, name);
        return File.Exists(path) ? path : null;
    }

    private static string? ReadSecret(string path, string where, List<string> problems)
    {
        if (!File.Exists(path))
        {
            problems.Add($"{where}: file not found (\"{path}\")");
            return null;
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & GroupOrOthers) != 0)
        {
            problems.Add($"{where}: must be readable by the service user only (chmod 600 \"{path}\")");
            return null;
        }

        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"{where}: cannot be read (\"{path}\")");
            return null;
        }

        // One secret, as written by `echo` or an editor: the trailing newline is not part of it.
        var secret = text.TrimEnd('\r', '\n');
        if (secret.Length == 0)
        {
            problems.Add($"{where}: is empty (\"{path}\")");
            return null;
        }

        return secret;
    }
}
