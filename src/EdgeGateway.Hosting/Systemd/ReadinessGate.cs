using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>
/// READY=1 waits for this gate as well as for the host to have started. The composition root opens it
/// once Kestrel listens and the drone link is up, so systemd's "started" means "usable".
/// </summary>
public sealed class ReadinessGate(ILogger<ReadinessGate>? logger = null)
{
    private readonly TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public bool IsOpen => _opened.Task.IsCompleted;

    /// <summary>Opens the gate; later calls do nothing.</summary>
    public void Open(string reason = "ready")
    {
        if (_opened.TrySetResult())
        {
            HostingLog.GateOpened((ILogger?)logger ?? NullLogger.Instance, reason);
        }
    }

    public Task WhenOpen(CancellationToken cancellationToken) => _opened.Task.WaitAsync(cancellationToken);
}
