using Microsoft.Extensions.Logging;
using PackageNotifier = Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier;
using ServiceState = Microsoft.Extensions.Hosting.Systemd.ServiceState;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>
/// What <see cref="Microsoft.Extensions.Hosting.Systemd.SystemdLifetime"/> talks to. The lifetime sends READY=1 at
/// ApplicationStarted, which for the gateway is too early (the readiness gate decides: <see cref="SystemdNotifyService"/>
/// sends READY=1 once it opens), so READY from the lifetime is not passed on. STOPPING=1 is, preceded by
/// <c>STATUS=stopping</c> so <c>systemctl status</c> says why the unit is deactivating. Everything goes out through
/// the gateway's <see cref="ISystemdNotifier"/>, which logs a failed send instead of throwing into the lifetime.
/// </summary>
internal sealed class SystemdLifetimeNotifier(ISystemdNotifier notifier, ILogger<SystemdLifetimeNotifier> logger) : PackageNotifier
{
    public bool IsEnabled => notifier.IsEnabled;

    public void Notify(ServiceState state)
    {
        var text = state.ToString();
        if (text == ServiceState.Ready.ToString())
        {
            return;
        }

        if (text == ServiceState.Stopping.ToString())
        {
            notifier.Notify("STATUS=stopping");
            if (notifier.Notify(text))
            {
                HostingLog.StoppingSent(logger);
            }

            return;
        }

        notifier.Notify(text);
    }
}
