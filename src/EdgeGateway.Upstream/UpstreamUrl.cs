using System.Text.RegularExpressions;

namespace EdgeGateway.Upstream;

/// <summary>
/// Turns <c>--upstream URL</c> arguments (repeatable) into configuration keys under <c>Upstream</c>, so a sink runs
/// without a config file. Schemes: <c>mqtt://</c>, <c>mqtts://</c>, <c>ws://</c>, <c>wss://</c>. Credentials come from
/// the URL user-info (<c>mqtt://user:pass@host</c>, <c>wss://TOKEN@host/path</c>) or, when absent, from
/// <see cref="UserNameVariable"/>, <see cref="PasswordVariable"/> and <see cref="TokenVariable"/>.
/// </summary>
public static partial class UpstreamUrl
{
    public const string UserNameVariable = "EDGEGW_UPSTREAM_USERNAME";
    public const string PasswordVariable = "EDGEGW_UPSTREAM_PASSWORD";
    public const string TokenVariable = "EDGEGW_UPSTREAM_TOKEN";

    /// <summary>
    /// Configuration pairs for every URL (keys like <c>Upstream:Mqtt:Host</c>), and one error per bad URL (with the URL
    /// redacted). <paramref name="environment"/> defaults to <see cref="Environment.GetEnvironmentVariable(string)"/>.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> ToConfiguration(IEnumerable<string> urls, out IReadOnlyList<string> errors,
        Func<string, string?>? environment = null, string section = "Upstream")
    {
        var env = environment ?? Environment.GetEnvironmentVariable;
        var config = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var problems = new List<string>();
        bool mqttSeen = false, relaySeen = false;
        foreach (var raw in urls)
        {
            var shown = Redact(raw ?? "");
            if (!Uri.TryCreate(raw, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                problems.Add($"--upstream {shown}: not an absolute URL with a host (expected mqtt://, mqtts://, ws:// or wss://)");
                continue;
            }

            var (user, password) = SplitUserInfo(uri.UserInfo);
            switch (uri.Scheme)
            {
                case "mqtt" or "mqtts":
                    if (mqttSeen)
                    {
                        problems.Add($"--upstream {shown}: only one mqtt:// or mqtts:// URL may be given");
                        continue;
                    }

                    if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
                    {
                        problems.Add($"--upstream {shown}: an MQTT URL has no path or query (topics are set by Upstream:Mqtt:TopicTemplate)");
                        continue;
                    }

                    mqttSeen = true;
                    var m = $"{section}:Mqtt:";
                    config[m + "Enabled"] = "true";
                    config[m + "Host"] = uri.Host;
                    config[m + "Port"] = uri.Port > 0 ? uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0";
                    config[m + "Tls:Enabled"] = uri.Scheme == "mqtts" ? "true" : "false";
                    var u = user ?? env(UserNameVariable);
                    var p = password ?? (user is null ? env(PasswordVariable) : null);
                    if (!string.IsNullOrEmpty(u))
                    {
                        config[m + "UserName"] = u;
                    }

                    if (!string.IsNullOrEmpty(p))
                    {
                        config[m + "Password"] = p;
                    }

                    break;
                case "ws" or "wss":
                    if (relaySeen)
                    {
                        problems.Add($"--upstream {shown}: only one ws:// or wss:// URL may be given");
                        continue;
                    }

                    // The token may be written as TOKEN@ or :TOKEN@; a user:password pair is not a relay credential.
                    if (user is { Length: > 0 } && password is { Length: > 0 })
                    {
                        problems.Add($"--upstream {shown}: a relay URL carries only a token (wss://TOKEN@host/path), not user:password");
                        continue;
                    }

                    var token = (password ?? user) is { Length: > 0 } t ? t : env(TokenVariable);
                    if (string.IsNullOrEmpty(token))
                    {
                        problems.Add($"--upstream {shown}: no token: write it as wss://TOKEN@host/path or set {TokenVariable}");
                        continue;
                    }

                    relaySeen = true;
                    var r = $"{section}:Relay:";
                    config[r + "Enabled"] = "true";
                    config[r + "Url"] = new UriBuilder(uri) { UserName = "", Password = "" }.Uri.ToString();
                    config[r + "Token"] = token;
                    break;
                default:
                    problems.Add($"--upstream {shown}: unsupported scheme '{uri.Scheme}' (expected mqtt, mqtts, ws or wss)");
                    break;
            }
        }

        errors = problems;
        return config;
    }

    /// <summary>The URL with any user-info replaced by <c>***</c>, for logs and error messages.</summary>
    public static string Redact(string url)
    {
        if (string.IsNullOrEmpty(url))
        {
            return url ?? "";
        }

        return UserInfo().Replace(url, "://***@");
    }

    private static (string? User, string? Password) SplitUserInfo(string userInfo)
    {
        if (string.IsNullOrEmpty(userInfo))
        {
            return (null, null);
        }

        var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
        var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
        var password = colon < 0 ? null : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
        return (user.Length == 0 ? null : user, password);
    }

    [GeneratedRegex("://[^/?#]*@")]
    private static partial Regex UserInfo();
}
