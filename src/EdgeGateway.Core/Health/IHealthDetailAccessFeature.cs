namespace EdgeGateway.Health;

/// <summary>
/// Set on a <c>/healthz</c> request (as an HTTP request feature) by the layer that knows who is asking: whether
/// the answer may carry the per-component detail (addresses, battery, device paths, upstream error text) or only
/// the overall status. The health endpoint itself knows nothing of roles.
/// </summary>
public interface IHealthDetailAccessFeature
{
    bool IncludeDetails { get; }
}
