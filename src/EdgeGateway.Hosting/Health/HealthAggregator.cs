using EdgeGateway.Health;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeGateway.Hosting.Health;

/// <summary>The gateway's health at one instant: the worst component state, and every component.</summary>
public sealed record HealthSnapshot(HealthState Status, IReadOnlyList<ComponentHealth> Components);

/// <summary>
/// Asks every registered <see cref="IHealthReporter"/>. A reporter that throws is reported as an unhealthy
/// component (named after its type) instead of failing the whole answer.
/// </summary>
public sealed class HealthAggregator(IEnumerable<IHealthReporter> reporters, ILogger<HealthAggregator>? logger = null)
{
    private readonly IHealthReporter[] _reporters = [.. reporters];
    private readonly ILogger _logger = (ILogger?)logger ?? NullLogger.Instance;

    public HealthSnapshot Collect()
    {
        var components = new List<ComponentHealth>();
        foreach (var reporter in _reporters)
        {
            try
            {
                components.AddRange(reporter.Report());
            }
            catch (Exception error)
            {
                var name = reporter.GetType().Name;
                HostingLog.HealthReporterFailed(_logger, name, error);
                components.Add(new ComponentHealth(name, HealthState.Unhealthy, $"health reporter failed: {error.GetType().Name}"));
            }
        }

        var status = HealthState.Healthy;
        foreach (var component in components)
        {
            if (component.State > status)
            {
                status = component.State;
            }
        }

        return new HealthSnapshot(status, components);
    }
}
