using System.Diagnostics.CodeAnalysis;

namespace EdgeGateway.LocalApi.Auth;

/// <summary>What a client may do. Ordered: a higher role may do everything a lower one may.</summary>
public enum ClientRole
{
    Observer = 1,
    Pilot = 2,
    Admin = 3,
}

internal static class RoleNames
{
    public static bool TryParse(string? text, [NotNullWhen(true)] out ClientRole? role)
    {
        role = text?.Trim().ToLowerInvariant() switch
        {
            "observer" => ClientRole.Observer,
            "pilot" => ClientRole.Pilot,
            "admin" => ClientRole.Admin,
            _ => null,
        };
        return role is not null;
    }

    public static string Name(ClientRole role) => role switch
    {
        ClientRole.Observer => "observer",
        ClientRole.Pilot => "pilot",
        ClientRole.Admin => "admin",
        _ => "unknown",
    };
}

/// <summary>Who a request or connection is, as far as control and audit care.</summary>
/// <param name="Identity">Stable key for control: <c>token:NAME</c>, <c>conn:ID</c> or <c>addr:IP</c>.</param>
/// <param name="Role">What it may do.</param>
/// <param name="Via">How the role was granted: <c>token</c>, <c>trusted_network</c> or <c>anonymous</c>.</param>
public sealed record ClientPrincipal(string Identity, ClientRole Role, string Via);
