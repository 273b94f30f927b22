using EdgeGateway.Health;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>
/// Speaks to systemd for the host: STATUS= every few seconds, READY=1 once the host has started and the
/// <see cref="ReadinessGate"/> is open, WATCHDOG=1 at half of WATCHDOG_USEC but only while every loop in the
/// <see cref="LoopHeartbeatRegistry"/> is alive. STOPPING=1 comes from Microsoft.Extensions.Hosting.Systemd's
/// SystemdLifetime, which the package also uses for READY=1 at ApplicationStarted: too early here, so that one is held back.
/// Sends nothing when NOTIFY_SOCKET is unset, but still records and logs the ready instant.
/// </summary>
internal sealed class SystemdNotifyService(
    ISystemdNotifier notifier,
    SystemdEnvironment environment,
    ReadinessGate gate,
    IStatusLineProvider status,
    LoopHeartbeatRegistry loops,
    IHostApplicationLifetime lifetime,
    IOptions<HostingOptions> options,
    TimeProvider time,
    ILogger<SystemdNotifyService> logger) : BackgroundService
{
    private readonly Lock _timerLock = new();
    private ITimer? _watchdogTimer;
    private ITimer? _statusTimer;
    private CancellationTokenRegistration _stoppingRegistration;
    private string? _withheldFor;
    private volatile bool _ready;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (notifier.IsEnabled)
        {
            _stoppingRegistration = lifetime.ApplicationStopping.Register(SendStopping);
            StartWatchdog();
            SendStatus();
            lock (_timerLock)
            {
                var interval = options.Value.StatusInterval;
                _statusTimer = time.CreateTimer(static s => ((SystemdNotifyService)s!).SendStatus(), this, interval, interval);
            }
        }

        try
        {
            await WhenStarted(stoppingToken).ConfigureAwait(false);
            await gate.WhenOpen(stoppingToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }

        _ready = true;
        if (!notifier.IsEnabled)
        {
            // Still record and log the ready instant, so start-up can be measured without systemd.
            var readyMs = ProcessStartTiming.MarkReady().TotalMilliseconds;
            HostingLog.ReadyWithoutSystemd(logger, readyMs);
            return;
        }

        SendStatus();
        if (notifier.Notify("READY=1"))
        {
            var elapsedMs = ProcessStartTiming.MarkReady().TotalMilliseconds;
            HostingLog.ReadySent(logger, elapsedMs);
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        DisposeTimers();
    }

    public override void Dispose()
    {
        DisposeTimers();
        _stoppingRegistration.Dispose();
        base.Dispose();
    }

    private async Task WhenStarted(CancellationToken cancellationToken)
    {
        if (lifetime.ApplicationStarted.IsCancellationRequested)
        {
            return;
        }

        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        await started.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private void StartWatchdog()
    {
        if (environment.WatchdogUsec is null)
        {
            return;
        }

        if (!environment.TryWatchdogUsec(out var usec))
        {
            HostingLog.WatchdogIgnored(logger, environment.WatchdogUsec);
            return;
        }

        var interval = environment.WatchdogPingInterval!.Value;
        HostingLog.WatchdogEnabled(logger, usec, (long)interval.TotalMilliseconds);
        lock (_timerLock)
        {
            _watchdogTimer = time.CreateTimer(static s => ((SystemdNotifyService)s!).WatchdogTick(), this, interval, interval);
        }
    }

    private void WatchdogTick()
    {
        try
        {
            var overdue = loops.Overdue();
            if (overdue.Count == 0)
            {
                if (_withheldFor is not null)
                {
                    _withheldFor = null;
                    HostingLog.WatchdogResumed(logger);
                }

                notifier.Notify("WATCHDOG=1");
                return;
            }

            // A hung loop must get the service restarted: stay silent and say which loop, once per change.
            var names = string.Join(", ", overdue);
            if (names != _withheldFor)
            {
                _withheldFor = names;
                HostingLog.WatchdogWithheld(logger, names);
            }
        }
        catch (Exception error)
        {
            HostingLog.NotifyLoopFailed(logger, error);
        }
    }

    private void SendStatus()
    {
        string line;
        try
        {
            line = status.GetStatusLine();
        }
        catch (Exception error)
        {
            HostingLog.StatusLineFailed(logger, error);
            line = "status unavailable";
        }

        notifier.Notify("STATUS=" + StatusLineText.OneLine(_ready ? line : "starting; " + line));
    }

    // STATUS=stopping and STOPPING=1 are sent by SystemdLifetime (through SystemdLifetimeNotifier); no more status lines after.
    private void SendStopping()
    {
        lock (_timerLock)
        {
            _statusTimer?.Dispose();
            _statusTimer = null;
        }
    }

    private void DisposeTimers()
    {
        lock (_timerLock)
        {
            _watchdogTimer?.Dispose();
            _watchdogTimer = null;
            _statusTimer?.Dispose();
            _statusTimer = null;
        }
    }
}
