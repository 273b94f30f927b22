namespace EdgeGateway.Health;

public enum HealthState
{
    Healthy = 0,
    /// <summary>Working, but worse than it should (a degraded link, an upstream backlog).</summary>
    Degraded = 1,
    Unhealthy = 2,
}

/// <summary>One component's state for <c>/healthz</c>, with a short human reason and optional details.</summary>
public sealed record ComponentHealth(string Component, HealthState State, string Summary,
    IReadOnlyDictionary<string, object?>? Details = null);

/// <summary>
/// Implemented by each capability (drone links, buffer, upstream, sensors) and registered in DI
/// as <see cref="IHealthReporter"/>; <c>/healthz</c> asks every one. Must be cheap and never block.
/// </summary>
public interface IHealthReporter
{
    IEnumerable<ComponentHealth> Report();
}
