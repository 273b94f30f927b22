using System.Diagnostics.Metrics;
using EdgeGateway.Health;
using EdgeGateway.Records;
using EdgeGateway.Sensors.I2c;
using EdgeGateway.Sensors.Sources;
using EdgeGateway.Time;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace EdgeGateway.Sensors.Hosting;

public static class SensorsServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="SensorsOptions"/> from <paramref name="section"/> (usually <c>Sensors</c>) and registers
    /// <see cref="ISensorRegistry"/>, a hosted service running one source per enabled sensor, an
    /// <see cref="IHealthReporter"/> and the GPS time hook (<see cref="IGpsTimeListener"/>; by default it marks a
    /// registered <see cref="SystemWallClock"/> as GPS-backed). Needs an <see cref="IRecordWriter"/> from the
    /// composition root; <see cref="TimeProvider"/> and <see cref="IWallClock"/> default to the system clock.
    /// </summary>
    public static IServiceCollection AddSensors(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        var options = new SensorsOptions();
        section.Bind(options);
        services.AddSingleton(options);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<IWallClock>(sp => new SystemWallClock(sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IGpsTimeListener>(sp => sp.GetRequiredService<IWallClock>() is SystemWallClock clock
            ? new WallClockGpsTimeListener(clock, options.GpsTimeMaxOffset, options.StaleAfter, sp.GetRequiredService<TimeProvider>(),
                sp.GetRequiredService<ILogger<WallClockGpsTimeListener>>())
            : NoGpsTimeListener.Instance);
        // Real hardware by default; simulate mode and tests register emulated chips first.
        services.TryAddSingleton<I2cDeviceOpener>(LinuxI2cBus.Open);
        services.AddSingleton(sp => new SensorMetrics(sp.GetService<IMeterFactory>()));
        services.AddSingleton(sp => new SensorRegistry(sp.GetRequiredService<TimeProvider>(), options.StaleAfter));
        services.AddSingleton<ISensorRegistry>(sp => sp.GetRequiredService<SensorRegistry>());
        services.AddSingleton(sp => new SensorSet(options, sp.GetRequiredService<SensorRegistry>(), sp.GetRequiredService<IRecordWriter>(),
            sp.GetRequiredService<IWallClock>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<SensorMetrics>(),
            sp.GetService<IGpsTimeListener>(), sp.GetRequiredService<ILoggerFactory>(), sp.GetService<LoopHeartbeatRegistry>(),
            sp.GetRequiredService<I2cDeviceOpener>()));
        services.AddSingleton<IHealthReporter>(sp => new SensorsHealthReporter(sp.GetRequiredService<ISensorRegistry>()));
        services.AddHostedService(sp => new SensorsHostedService(sp.GetRequiredService<SensorSet>(),
            sp.GetRequiredService<ILogger<SensorsHostedService>>()));
        return services;
    }

    private sealed class NoGpsTimeListener : IGpsTimeListener
    {
        public static readonly NoGpsTimeListener Instance = new();

        public void OnGpsTime(DateTimeOffset gpsUtc, DateTimeOffset systemUtc)
        {
        }
    }
}
