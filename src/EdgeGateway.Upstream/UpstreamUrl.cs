namespace EdgeGateway.Upstream;

/// <summary>
/// Turns <c>--upstream URL</c> arguments (repeatable) into configuration keys under <c>Upstream</c>, so a sink runs
/// without a config file. Schemes: <c>mqtt://</c>, <c>mqtts://</c>, <c>mqtt+ws://host:port/path</c> and
/// <c>mqtt+wss://</c> (MQTT over WebSocket), and <c>ws://</c>, <c>wss://</c> (the relay). Credentials come from
/// the URL user-info (<c>mqtt://user:pass@host</c>, <c>wss://TOKEN@host/path</c>) or, when absent, from
/// <see cref="UserNameVariable"/>, <see cref="PasswordVariable"/> and <see cref="TokenVariable"/>.
/// </summary>
public static class UpstreamUrl
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
            if (!TrySplitCredentials(raw ?? "", out var bare, out var user, out var password))
            {
                // Never the secret, not even the offending character's position.
                problems.Add($"--upstream {shown}: the user name, password or token contains a raw '/', '?', '#' or '@'; "
                    + "percent-encode it (%2F, %3F, %23, %40), or give it in a file (Upstream:Mqtt:PasswordFile, "
                    + "Upstream:Relay:TokenFile, or systemd credentials) instead of on the command line");
                continue;
            }

            if (!Uri.TryCreate(bare, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
            {
                problems.Add($"--upstream {shown}: not an absolute URL with a host (expected mqtt://, mqtts://, mqtt+ws://, mqtt+wss://, ws:// or wss://)");
                continue;
            }

            switch (uri.Scheme)
            {
                case "mqtt" or "mqtts" or "mqtt+ws" or "mqtt+wss":
                    if (mqttSeen)
                    {
                        problems.Add($"--upstream {shown}: only one mqtt://, mqtts://, mqtt+ws:// or mqtt+wss:// URL may be given");
                        continue;
                    }

                    var overWebSocket = uri.Scheme is "mqtt+ws" or "mqtt+wss";
                    if (!overWebSocket && (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0))
                    {
                        problems.Add($"--upstream {shown}: an MQTT URL has no path or query (topics are set by Upstream:Mqtt:TopicTemplate)");
                        continue;
                    }

                    if (uri.Fragment.Length > 0)
                    {
                        problems.Add($"--upstream {shown}: an MQTT URL has no fragment (#...)");
                        continue;
                    }

                    mqttSeen = true;
                    var m = $"{section}:Mqtt:";
                    config[m + "Enabled"] = "true";
                    config[m + "Host"] = uri.Host;
                    config[m + "Port"] = uri.Port > 0 ? uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) : "0";
                    config[m + "Tls:Enabled"] = uri.Scheme is "mqtts" or "mqtt+wss" ? "true" : "false";
                    config[m + "WebSocket:Enabled"] = overWebSocket ? "true" : "false";
                    if (overWebSocket)
                    {
                        // The path as written (still percent-encoded); "/" when the URL has none.
                        config[m + "WebSocket:Path"] = uri.PathAndQuery;
                    }

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
                    config[r + "Url"] = uri.ToString();
                    config[r + "Token"] = token;
                    break;
                default:
                    problems.Add($"--upstream {shown}: unsupported scheme '{uri.Scheme}' (expected mqtt, mqtts, mqtt+ws, mqtt+wss, ws or wss)");
                    break;
            }
        }

        errors = problems;
        return config;
    }

    /// <summary>
    /// The URL with everything between <c>scheme://</c> and the last <c>@</c> replaced by <c>***</c>: the one redaction
    /// used for every log line, error message and health text that may hold a URL. Taking the last <c>@</c> (not the
    /// first <c>/ ? #</c>) hides a secret even when it holds those characters unencoded; an <c>@</c> in a path
    /// over-redacts, which is the safe side.
    /// </summary>
    public static string Redact(string url) => RedactUrlsIn(url, wholeText: true);

    /// <summary>Free text (an exception message, a failure reason) with the user-info of every URL in it redacted.</summary>
    public static string RedactUrlsIn(string? text) => RedactUrlsIn(text, wholeText: false);

    private static string RedactUrlsIn(string? text, bool wholeText)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? "";
        }

        if (wholeText && !text.Contains("://", StringComparison.Ordinal))
        {
            // "user:pass@host" without a scheme.
            var at = text.LastIndexOf('@');
            return at < 0 ? text : "***" + text[at..];
        }

        var result = new System.Text.StringBuilder(text.Length);
        var position = 0;
        while (position < text.Length)
        {
            var scheme = text.IndexOf("://", position, StringComparison.Ordinal);
            if (scheme < 0)
            {
                break;
            }

            var start = scheme + 3;
            var end = wholeText ? text.Length : EndOfUrl(text, start);
            var at = text.LastIndexOf('@', end - 1, end - start);
            result.Append(text, position, start - position);
            if (at >= start)
            {
                result.Append("***");
                result.Append(text, at, end - at);
            }
            else
            {
                result.Append(text, start, end - start);
            }

            position = end;
        }

        result.Append(text, position, text.Length - position);
        return result.ToString();
    }

    private static int EndOfUrl(string text, int start)
    {
        for (var i = start; i < text.Length; i++)
        {
            if (char.IsWhiteSpace(text[i]) || text[i] is '"' or '\'' or '<' or '>')
            {
                return i;
            }
        }

        return text.Length;
    }

    /// <summary>Whether the URL carries a password or a relay token (so it should not be on a command line); a user name alone is no secret.</summary>
    public static bool HasSecret(string url)
    {
        if (!TrySplitCredentials(url, out _, out var user, out var password))
        {
            return true;
        }

        var relay = url.StartsWith("ws://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("wss://", StringComparison.OrdinalIgnoreCase);
        return password is { Length: > 0 } || (relay && user is not null);
    }

    /// <summary>
    /// Splits <c>scheme://userinfo@rest</c> into the URL without user-info and the percent-decoded user and password.
    /// The user-info runs to the last <c>@</c>; when it holds a raw <c>/ ? # @</c> the URL is ambiguous (a parser would
    /// read part of the secret as host, path or fragment), so it is refused (false).
    /// </summary>
    internal static bool TrySplitCredentials(string raw, out string bare, out string? user, out string? password)
    {
        bare = raw;
        user = null;
        password = null;
        var scheme = raw.IndexOf("://", StringComparison.Ordinal);
        var at = raw.LastIndexOf('@');
        if (scheme < 0 || at < scheme + 3)
        {
            return true;
        }

        var userInfo = raw.AsSpan(scheme + 3, at - scheme - 3);
        if (userInfo.IndexOfAny("/?#@") >= 0)
        {
            return false;
        }

        bare = string.Concat(raw.AsSpan(0, scheme + 3), raw.AsSpan(at + 1));
        (user, password) = SplitUserInfo(userInfo.ToString());
        return true;
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
}
