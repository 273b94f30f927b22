using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace EdgeGateway.Simulator;

public static class SimulatorServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="SimulatorOptions"/> from <paramref name="section"/> and registers the hosted fleet. Register it
    /// before the drone link so the simulated drones are listening when the link starts.
    /// </summary>
    public static IServiceCollection AddTelloSimulator(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.Configure<SimulatorOptions>(section);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<TelloFleetHostedService>();
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<TelloFleetHostedService>());
        return services;
    }
}
