using EdgeGateway.Health;
using EdgeGateway.Hosting.Health;

namespace EdgeGateway.Hosting.Systemd;

/// <summary>Supplies the one-line summary systemd shows in <c>systemctl status</c> (STATUS=).</summary>
public interface IStatusLineProvider
{
    string GetStatusLine();
}

/// <summary>Default status line from the health reporters, e.g. <c>degraded: 4 components; upstream: offline 12 s</c>.</summary>
public sealed class HealthStatusLineProvider(HealthAggregator health) : IStatusLineProvider
{
    public string GetStatusLine()
    {
        var snapshot = health.Collect();
        var line = $"{StateName(snapshot.Status)}: {snapshot.Components.Count} components";
        foreach (var component in snapshot.Components)
        {
            if (component.State != HealthState.Healthy)
            {
                line += $"; {component.Component}: {component.Summary}";
            }
        }

        return line;
    }

    internal static string StateName(HealthState state) => state switch
    {
        HealthState.Healthy => "healthy",
        HealthState.Degraded => "degraded",
        _ => "unhealthy",
    };
}

internal static class StatusLineText
{
    private const int MaxLength = 200;

    /// <summary>STATUS= takes one line; control characters would end or corrupt it.</summary>
    public static string OneLine(string text)
    {
        var chars = text.Length > MaxLength ? text.AsSpan(0, MaxLength) : text.AsSpan();
        return string.Create(chars.Length, text, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = source[i];
                span[i] = char.IsControl(c) ? ' ' : c;
            }
        });
    }
}
