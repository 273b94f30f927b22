using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EdgeGateway.LocalApi.Auth;

/// <summary>
/// The gateway's own names: what a <c>Host</c> header and a browser <c>Origin</c> may name. A DNS-rebinding page
/// reaches the gateway under the attacker's name (<c>evil.example</c> resolved to the gateway's address), so a
/// request is only served when it names the gateway: <c>localhost</c>, the machine's host name and its mDNS name
/// (<c>&lt;hostname&gt;.local</c>), an IP literal of one of the machine's interfaces (or loopback), or a name in
/// <c>LocalApi:AllowedHosts</c>. Ports are not part of the check.
/// </summary>
internal sealed class HostAllowList
{
    // Interface addresses change (DHCP, a new link); a literal that is not known re-reads them, at most this often.
    private static readonly TimeSpan s_refreshInterval = TimeSpan.FromSeconds(5);

    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _anyHost;
    private readonly HashSet<string> _origins = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _anyOrigin;
    private readonly TimeProvider _time;
    private readonly Func<IEnumerable<IPAddress>> _interfaceAddresses;
    private readonly Lock _refreshLock = new();
    private volatile HashSet<IPAddress> _addresses;
    private long _refreshedAt;

    public HostAllowList(IOptions<LocalApiOptions> options, TimeProvider time)
        : this(options.Value, time, Dns.GetHostName(), InterfaceAddresses)
    {
    }

    internal HostAllowList(LocalApiOptions options, TimeProvider time, string hostName, Func<IEnumerable<IPAddress>> interfaceAddresses)
    {
        _time = time;
        _interfaceAddresses = interfaceAddresses;
        _names.Add("localhost");
        if (!string.IsNullOrEmpty(hostName))
        {
            AddMachineName(hostName);
            var dot = hostName.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0)
            {
                AddMachineName(hostName[..dot]);
            }
        }

        foreach (var name in options.AllowedHosts)
        {
            if (name == "*")
            {
                _anyHost = true;
            }
            else
            {
                _names.Add(Normalize(name));
            }
        }

        foreach (var origin in options.Limits.AllowedOrigins)
        {
            if (origin == "*")
            {
                _anyOrigin = true;
            }
            else
            {
                _origins.Add(origin);
            }
        }

        _addresses = Snapshot();
        _refreshedAt = _time.GetTimestamp();
    }

    /// <summary>The names accepted besides IP literals, for the start-up log line.</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>An absent Host (HTTP/1.0) is allowed: browsers always send one, so rebinding cannot omit it.</summary>
    public bool IsAllowedHost(HostString host) => !host.HasValue || IsAllowedHostName(host.Host);

    /// <summary>A host without its port: a name, an IPv4 literal or an IPv6 literal with or without brackets.</summary>
    public bool IsAllowedHostName(string host)
    {
        if (_anyHost)
        {
            return true;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (host.Length == 0)
        {
            return false;
        }

        if (IPAddress.TryParse(host, out var address))
        {
            return IsOwnAddress(address);
        }

        return _names.Contains(Normalize(host));
    }

    /// <summary>No Origin (not a browser), an origin listed in <c>Limits:AllowedOrigins</c>, or one whose host is one of the gateway's names.</summary>
    public bool IsAllowedOrigin(string origin)
    {
        if (origin.Length == 0 || _anyOrigin || _origins.Contains(origin))
        {
            return true;
        }

        return Uri.TryCreate(origin, UriKind.Absolute, out var uri)
               && uri.Scheme is "http" or "https"
               && IsAllowedHostName(uri.Host);
    }

    private bool IsOwnAddress(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address))
        {
            return true;
        }

        address = WithoutScope(address);
        if (_addresses.Contains(address))
        {
            return true;
        }

        lock (_refreshLock)
        {
            if (_time.GetElapsedTime(_refreshedAt) < s_refreshInterval)
            {
                return false;
            }

            _addresses = Snapshot();
            _refreshedAt = _time.GetTimestamp();
        }

        return _addresses.Contains(address);
    }

    private HashSet<IPAddress> Snapshot()
    {
        var set = new HashSet<IPAddress>();
        try
        {
            foreach (var a in _interfaceAddresses())
            {
                set.Add(WithoutScope(a.IsIPv4MappedToIPv6 ? a.MapToIPv4() : a));
            }
        }
        catch (NetworkInformationException)
        {
            // No interface list (a locked-down sandbox): loopback and names still work.
        }

        return set;
    }

    private void AddMachineName(string name)
    {
        _names.Add(Normalize(name));
        _names.Add(Normalize(name) + ".local");
    }

    // fe80::1%eth0 and fe80::1 are the same address for this purpose.
    private static IPAddress WithoutScope(IPAddress address)
        => address.AddressFamily == AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes()) : address;

    // "gateway.local." is the same name as "gateway.local".
    private static string Normalize(string name) => name.Trim().TrimEnd('.').ToLowerInvariant();

    private static IEnumerable<IPAddress> InterfaceAddresses()
        => NetworkInterface.GetAllNetworkInterfaces().SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(u => u.Address);
}
