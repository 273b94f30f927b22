using System.Diagnostics;
using System.Reflection;

namespace EdgeGateway.LocalApi;

/// <summary>The running gateway's version and start time, as the console and <c>GET /api/gateway</c> show them.</summary>
internal static class GatewayInfo
{
    /// <summary>The entry assembly's informational version without the source-revision suffix (<c>1.0.0</c>).</summary>
    public static string Version { get; } = ReadVersion();

    public static DateTimeOffset StartedAt { get; } = new(Process.GetCurrentProcess().StartTime.ToUniversalTime(), TimeSpan.Zero);

    private static string ReadVersion()
    {
        var assembly = Assembly.GetEntryAssembly() ?? typeof(GatewayInfo).Assembly;
        var informational = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
        if (!string.IsNullOrEmpty(informational))
        {
            var plus = informational.IndexOf('+', StringComparison.Ordinal);
            return plus > 0 ? informational[..plus] : informational;
        }

        return assembly.GetName().Version?.ToString() ?? "unknown";
    }
}
