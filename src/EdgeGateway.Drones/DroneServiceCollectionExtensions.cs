using System.Diagnostics.Metrics;
using EdgeGateway.Drones.Tello;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Time;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Drones;

public static class DroneServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DroneOptions"/> from <paramref name="section"/> (usually <c>Drones</c>) and registers
    /// <see cref="TelloFleet"/> as <see cref="IDroneFleet"/>, a hosted service that starts and stops it, and an
    /// <see cref="IHealthReporter"/>. Needs an <see cref="IRecordWriter"/> registered by the composition root;
    /// <see cref="TimeProvider"/> and <see cref="IWallClock"/> default to the system clock when absent.
    /// </summary>
    public static IServiceCollection AddDrones(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        var options = new DroneOptions();
        section.Bind(options);
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWallClock>(sp => new SystemWallClock(sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new TelloFleet(
            sp.GetRequiredService<DroneOptions>(),
            sp.GetRequiredService<IRecordWriter>(),
            sp.GetRequiredService<IWallClock>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>(),
            sp.GetService<LoopHeartbeatRegistry>()));
        services.AddSingleton<IDroneFleet>(sp => sp.GetRequiredService<TelloFleet>());
        services.AddSingleton<IHealthReporter>(sp => new DroneHealthReporter(sp.GetRequiredService<TelloFleet>()));
        services.AddHostedService(sp => new DroneFleetHostedService(sp.GetRequiredService<TelloFleet>()));
        return services;
    }
}

/// <summary>Starts the fleet with the host (a taken port fails the start) and lands and closes it on stop.</summary>
internal sealed class DroneFleetHostedService(TelloFleet fleet) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => fleet.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => fleet.StopAsync(cancellationToken);
}

/// <summary>One entry per drone: healthy while state is fresh, degraded when late, unhealthy when lost.</summary>
public sealed class DroneHealthReporter(TelloFleet fleet) : IHealthReporter
{
    public IEnumerable<ComponentHealth> Report()
    {
        foreach (var drone in fleet.Drones)
        {
            var status = drone.Status;
            var (state, summary) = status.Health switch
            {
                DroneLinkHealth.Fresh => (HealthState.Healthy, "state arriving"),
                DroneLinkHealth.Degraded => (HealthState.Degraded, "state late"),
                DroneLinkHealth.Lost => (HealthState.Unhealthy, "no state; re-sending 'command'"),
                _ => (HealthState.Degraded, "connecting; no state yet"),
            };
            yield return new ComponentHealth($"drone/{drone.Id}", state, summary, new Dictionary<string, object?>
            {
                ["address"] = status.Address,
                ["health"] = status.Health.ToString().ToLowerInvariant(),
                ["flying"] = status.IsFlying,
                ["battery_percent"] = status.Battery,
                ["last_state_at"] = status.LastStateAt,
                // Replies from the drone's IP but not its command port: spoofing or a stray program, never matched.
                ["ignored_wrong_port_replies"] = (drone as TelloLink)?.WrongPortReplies ?? 0,
            });
        }
    }
}
