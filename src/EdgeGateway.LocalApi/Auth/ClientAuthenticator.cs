using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Auth;

public enum AuthOutcome
{
    Authenticated,
    /// <summary>A token was presented and matches nothing.</summary>
    InvalidToken,
    /// <summary>No token, not from a trusted network, and anonymous clients are refused.</summary>
    TokenRequired,
    /// <summary>An <c>Authorization</c> header that is not exactly <c>Bearer &lt;token&gt;</c> (another scheme, a tab, no token, two headers).</summary>
    MalformedAuthorization,
}

/// <summary>Turns a request (Bearer header or <c>?token=</c>) and its source address into a principal.</summary>
internal sealed class ClientAuthenticator
{
    private readonly List<(string Name, ClientRole Role, byte[] Hash)> _tokens = [];
    private readonly List<IPNetwork> _trusted = [];
    private readonly ClientRole _trustedRole;
    private readonly ClientRole? _anonymousRole;

    public ClientAuthenticator(IOptions<LocalApiOptions> options, ILogger<ClientAuthenticator> logger)
    {
        var auth = options.Value.Auth;
        foreach (var t in auth.Tokens)
        {
            if (RoleNames.TryParse(t.Role, out var role) && TokenHash.TryParse(t.Hash, out var hash))
            {
                _tokens.Add((t.Name, role.Value, hash));
            }
        }

        if (!string.IsNullOrEmpty(auth.TokenFile))
        {
            _tokens.AddRange(TokenFileReader.Read(auth.TokenFile));
        }

        foreach (var n in auth.EffectiveTrustedNetworks)
        {
            if (IPNetwork.TryParse(n, out var net))
            {
                _trusted.Add(net);
            }
        }

        _trustedRole = RoleNames.TryParse(auth.TrustedRole, out var tr) ? tr.Value : ClientRole.Pilot;
        _anonymousRole = string.Equals(auth.AnonymousRole, "none", StringComparison.OrdinalIgnoreCase) ? null : ClientRole.Observer;
        // Names and counts only: token values and hashes never reach a log.
        logger.AuthConfigured(_tokens.Count, string.Join(", ", auth.EffectiveTrustedNetworks), RoleNames.Name(_trustedRole),
            _anonymousRole is null ? "none" : "observer");
    }

    /// <param name="connectionIdentity">For a WebSocket without a token: the connection's own identity.</param>
    public AuthOutcome Authenticate(HttpContext context, string? connectionIdentity, out ClientPrincipal? principal)
    {
        principal = null;
        if (!TryReadBearer(context, out var bearer))
        {
            // Even from a trusted network: a client that meant to authenticate and got it wrong is told so,
            // rather than silently getting the network's role.
            return AuthOutcome.MalformedAuthorization;
        }

        var token = bearer
            ?? (connectionIdentity is not null ? SubprotocolToken(context) ?? context.Request.Query["token"].ToString() : null);
        var remote = context.Connection.RemoteIpAddress;
        if (remote is { IsIPv4MappedToIPv6: true })
        {
            remote = remote.MapToIPv4();
        }

        if (!string.IsNullOrEmpty(token))
        {
            var hash = TokenHash.Of(token);
            foreach (var t in _tokens)
            {
                if (CryptographicOperations.FixedTimeEquals(hash, t.Hash))
                {
                    principal = new ClientPrincipal("token:" + t.Name, t.Role, "token");
                    return AuthOutcome.Authenticated;
                }
            }

            return AuthOutcome.InvalidToken;
        }

        var identity = connectionIdentity ?? "addr:" + remote;
        if (remote is not null && IsTrusted(remote))
        {
            principal = new ClientPrincipal(identity, _trustedRole, "trusted_network");
            return AuthOutcome.Authenticated;
        }

        if (_anonymousRole is { } anon)
        {
            principal = new ClientPrincipal(identity, anon, "anonymous");
            return AuthOutcome.Authenticated;
        }

        return AuthOutcome.TokenRequired;
    }

    private bool IsTrusted(IPAddress address)
    {
        foreach (var n in _trusted)
        {
            if (n.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The subprotocol a browser offers beside a token, and the one the server then accepts.</summary>
    public const string Subprotocol = "edge-gateway";

    /// <summary>
    /// The prefix of the subprotocol that carries a browser's token: <c>edge-gateway.bearer.&lt;base64url of the token&gt;</c>.
    /// A browser cannot set headers on a WebSocket; this keeps the token out of every URL (and so out of request logs
    /// and browser history). The browser also offers <see cref="Subprotocol"/>, which the server selects.
    /// </summary>
    public const string TokenSubprotocolPrefix = "edge-gateway.bearer.";

    /// <summary>Stands for an offered token that cannot be right: it hashes to nothing configured.</summary>
    private const string InvalidToken = "\0invalid";

    private static string? SubprotocolToken(HttpContext context)
    {
        foreach (var offered in context.WebSockets.WebSocketRequestedProtocols)
        {
            if (!offered.StartsWith(TokenSubprotocolPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            // A token was offered: if it is empty or not base64url, it matches nothing (never "no token").
            var encoded = offered[TokenSubprotocolPrefix.Length..];
            try
            {
                var token = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(encoded));
                return token.Length > 0 ? token : InvalidToken;
            }
            catch (FormatException)
            {
                return InvalidToken;
            }
        }

        return null;
    }


    /// <summary>
    /// No header: true with a null token. Exactly one header of the form <c>Bearer</c> (any case), one space, and a
    /// token of visible ASCII characters: true with the token. Anything else (<c>Bearer&lt;TAB&gt;x</c>, <c>Token x</c>,
    /// <c>Bearer</c> alone, two spaces, two headers, an empty header): false.
    /// </summary>
    internal static bool TryReadBearer(HttpContext context, out string? token)
    {
        token = null;
        var values = context.Request.Headers.Authorization;
        if (values.Count == 0)
        {
            return true;
        }

        const string Scheme = "Bearer ";
        var header = values.Count == 1 ? values[0] : null;
        if (header is null || header.Length <= Scheme.Length || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        foreach (var c in header.AsSpan(Scheme.Length))
        {
            if (c is <= ' ' or > '~')
            {
                return false;
            }
        }

        token = header[Scheme.Length..];
        return true;
    }
}
