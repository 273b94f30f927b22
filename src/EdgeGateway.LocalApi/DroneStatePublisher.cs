using EdgeGateway.Drones;
using EdgeGateway.LocalApi.Hub;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.LocalApi;

/// <summary>
/// Bridges the drone links to the hub: every state datagram becomes one <c>status_update</c>
/// (serialized once, latest-wins per drone) and health changes become link events.
/// Runs on the links' receive loops, so it never blocks.
/// </summary>
internal sealed class DroneStatePublisher : IHostedService
{
    private readonly IDroneFleet _fleet;
    private readonly LocalHub _hub;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public DroneStatePublisher(IDroneFleet fleet, LocalHub hub, TimeProvider time, ILogger<DroneStatePublisher> logger)
    {
        _fleet = fleet;
        _hub = hub;
        _time = time;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var link in _fleet.Drones)
        {
            link.StateReceived += OnState;
            link.HealthChanged += OnHealth;
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var link in _fleet.Drones)
        {
            link.StateReceived -= OnState;
            link.HealthChanged -= OnHealth;
        }

        return Task.CompletedTask;
    }

    private void OnState(IDroneLink link, TelloState state)
    {
        if (_hub.ConnectionCount == 0)
        {
            // Nobody to tell: an idle gateway does not serialize ten frames a second for no one (a client that connects
            // later gets the current state when it subscribes).
            return;
        }

        try
        {
            var status = link.Status;
            // The link stamps LastStateAt when it stores this state; if it has moved on, stamp now.
            var receivedAt = ReferenceEquals(status.State, state) ? status.LastStateAt : _time.GetUtcNow();
            _hub.PublishUtf8(HubChannels.StatusUpdates, link.Id, StatusJson.StatusUpdateFrame(status, state, receivedAt));
        }
        catch (Exception e)
        {
            _logger.PublishFailed(link.Id, e);
        }
    }

    private void OnHealth(IDroneLink link, DroneLinkHealth previous, DroneLinkHealth current)
    {
        try
        {
            _logger.LinkHealthChanged(link.Id, StatusJson.HealthName(previous), StatusJson.HealthName(current));
            var name = current switch
            {
                DroneLinkHealth.Fresh when previous != DroneLinkHealth.Degraded => "link_up",
                DroneLinkHealth.Lost => "link_down",
                _ => "link_health",
            };
            _hub.PublishEvent(link.Id, name, ("previous", StatusJson.HealthName(previous)), ("current", StatusJson.HealthName(current)));
            // Clients watching status see the disconnect even though no datagram arrives.
            var status = link.Status;
            _hub.PublishUtf8(HubChannels.StatusUpdates, link.Id, StatusJson.StatusUpdateFrame(status, status.State, status.LastStateAt));
        }
        catch (Exception e)
        {
            _logger.PublishFailed(link.Id, e);
        }
    }
}
