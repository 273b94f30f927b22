using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>Sends sd_notify(3) state lines to the service manager. A narrow seam so a library can replace it.</summary>
public interface ISystemdNotifier
{
    /// <summary>True when NOTIFY_SOCKET is set; otherwise every <see cref="Notify"/> is a no-op.</summary>
    bool IsEnabled { get; }

    /// <summary>Sends one datagram, e.g. <c>READY=1</c> or <c>STATUS=…</c>. Returns false when disabled or the send failed.</summary>
    bool Notify(string state);
}

/// <summary>
/// The notify protocol: each state is one datagram to the unix socket named by NOTIFY_SOCKET;
/// a leading <c>@</c> names a socket in the Linux abstract namespace.
/// </summary>
/// <remarks>
/// Kept rather than Microsoft.Extensions.Hosting.Systemd's <c>SystemdNotifier</c> (whose lifetime the host does use):
/// that one reads NOTIFY_SOCKET from the process environment only (its socket-path constructor is internal), so the
/// <see cref="SystemdEnvironment"/> seam the in-process tests use could not point it at their socket; and its
/// <c>Notify</c> throws a <see cref="SocketException"/> when the manager is not listening, which would surface inside
/// the lifetime's ApplicationStopping callback. This one logs the failure and returns false.
/// </remarks>
public sealed class SystemdNotifier : ISystemdNotifier, IDisposable
{
    private readonly ILogger _logger;
    private readonly UnixDomainSocketEndPoint? _endPoint;
    private readonly string? _socketName;
    private readonly Lock _gate = new();
    private Socket? _socket;
    private bool _disposed;

    public SystemdNotifier(SystemdEnvironment environment, ILogger<SystemdNotifier>? logger = null)
        : this(environment.NotifySocket, logger)
    {
    }

    public SystemdNotifier(string? notifySocket, ILogger<SystemdNotifier>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        if (string.IsNullOrEmpty(notifySocket) || !Socket.OSSupportsUnixDomainSockets)
        {
            HostingLog.NotifySocketUnset(_logger);
            return;
        }

        _socketName = notifySocket;
        // UnixDomainSocketEndPoint treats a leading NUL as the abstract namespace, which is what '@' means to systemd.
        _endPoint = new UnixDomainSocketEndPoint(notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket);
    }

    public bool IsEnabled => _endPoint is not null;

    public bool Notify(string state)
    {
        if (_endPoint is null)
        {
            return false;
        }

        var bytes = Encoding.UTF8.GetBytes(state);
        lock (_gate)
        {
            if (_disposed)
            {
                return false;
            }

            try
            {
                _socket ??= new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                _socket.SendTo(bytes, SocketFlags.None, _endPoint);
                return true;
            }
            catch (SocketException error)
            {
                HostingLog.NotifyFailed(_logger, FirstField(state), _socketName!, error);
                // A fresh socket next time: the manager may have been restarted.
                _socket?.Dispose();
                _socket = null;
                return false;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _socket?.Dispose();
            _socket = null;
        }
    }

    private static string FirstField(string state)
    {
        var eq = state.IndexOf('=');
        return eq < 0 ? state : state[..(eq + 1)] + "…";
    }
}
